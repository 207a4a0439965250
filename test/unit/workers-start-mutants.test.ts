/**
 * How the relay's workers are wired (src/workers/start.ts) and the periodic reconciler
 * (src/workers/reconcile.ts), in-process against this file's own Redis with real BullMQ workers:
 * `startWorkers` is started as src/relay.ts starts it, jobs are added to the real queues, and what
 * the workers did is read back from Redis (each job's state, result, lock and delay), from the log
 * lines an operator reads and from the forge held in memory (test/helpers/memory-forge.ts).
 * `processReconcile` is driven directly. Written for the mutants of `npm run test:mutation --
 * workers-start` (TESTING.md): the end-to-end files reach these lines only through a whole relay,
 * and check little of what they decide (which processor a job name reaches, what a held job
 * spends, how long a lock lasts, what `close` waits for, which upstreams are reconciled).
 *
 * The subscribers' side of a delivery (a broker's connection, the history it reads) is a small
 * stand-in here (`delivery` below): it is a broker we cannot run in a unit test, and the sinks
 * worker is only the carrier of a job that holds itself back. `Math.random` is pinned where a
 * test pins the jitter added to a hold.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import type { Job } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { ForgeError } from "../../src/forge/errors.js";
import type { GithubApps } from "../../src/forge/github-apps.js";
import { Systems } from "../../src/forge/registry.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { Reporter } from "../../src/forge/roles.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap } from "../../src/map/load.js";
import { jobsHeld } from "../../src/metrics.js";
import { HoldJob } from "../../src/queue/hold.js";
import { checkKey, deliveryJobId } from "../../src/queue/job-ids.js";
import { KEY_PREFIX } from "../../src/queue/names.js";
import { targetOf } from "../../src/report/check-store.js";
import { checkName } from "../../src/report/check-text.js";
import type { DeliveryDeps } from "../../src/sinks/deliver.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { processReconcile } from "../../src/workers/reconcile.js";
import { startWorkers, type Workers } from "../../src/workers/start.js";
import { MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { waitFor } from "../helpers/wait-for.js";
import { capturedLog, DEBUG, ERROR, INFO, ISO, type LogLine, SHA, triggerData, upstreamRef, useWorkerQueues, WARN, workerDeps } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

const OTHER_SHA = "89abcdef0123456789abcdef0123456789abcdef";

/**
 * Upstreams the reconciler lists (`up` on GitHub, `gl` on a GitLab host of its own, `gd` on
 * GITLAB_URL's), and those it leaves alone: `watched` (the watcher polls it), `lonely` (nothing
 * depends on it), `down` (a downstream only), `gitsrc` (a git host: no `source` is registered here).
 */
const MAP = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: upco/lib }
  - { id: gl, foundation: f, gitlab: { host: gitlab.example.org, project: grp/gl } }
  - { id: gd, foundation: f, gitlab: grp/gd }
  - { id: watched, foundation: f, github: upco/watched, watch: {} }
  - { id: lonely, foundation: f, github: upco/lonely }
  - { id: gitsrc, foundation: f, git: "https://git.example.org/lib.git" }
  - id: down
    foundation: f
    github: upco/down
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }, { project: gl }, { project: gd }, { project: watched }, { project: gitsrc }]
`);

/**
 * The forge held in memory, plus what the reconciler and the declaration reader ask of it: each
 * repository's tags (newest first, as the forges list them), a listing that fails, and a listing
 * that waits until the test lets it go (a job kept active).
 */
class Forge extends MemoryForge {
  readonly tagLists: Record<string, { name: string; sha: string }[]> = {};
  readonly listFailures: Record<string, Error> = {};
  readonly listed: { repo: string; host: string | undefined }[] = [];

  constructor(private readonly host: string | undefined = undefined) {
    super();
  }

  at(host: string | undefined): Forge {
    const view = Object.create(this) as Forge;
    Object.defineProperty(view, "host", { value: host });
    return view;
  }

  // Optional only to override MemoryForge's listTags, which takes none; Source.listTags always passes it.
  override async listTags(repo = ""): Promise<never> {
    this.listed.push({ repo, host: this.host });
    const failure = this.listFailures[repo];
    if (failure) throw failure;
    return (this.tagLists[repo] ?? []) as never;
  }

  async readFile(): Promise<undefined> {
    return undefined;
  }
}

let forge: Forge;
let logs: LogLine[];
let log: Logger;
let map: DependencyMap;

beforeEach(async () => {
  await redis().flushdb();
  forge = new Forge();
  ({ log, lines: logs } = capturedLog());
  map = MAP;
});

/** GitHub and GitLab as sources (and GitHub as runner, reporter and files); `noGitlabSource` leaves GitLab without one. */
function systems(o: { noGitlabSource?: boolean } = {}): Systems {
  return new Systems({
    github: {
      source: () => forge.at(undefined), runner: () => forge, reporter: () => forge as unknown as Reporter, files: () => forge as never,
      pollsRuns: false, signsCheckHooks: true,
    },
    gitlab: { ...(o.noGitlabSource ? {} : { source: (at) => forge.at(at.host) }), pollsRuns: true, signsCheckHooks: false },
  }, () => map);
}

function makeDeps(o: { noGitlabSource?: boolean; githubApps?: GithubApps; jobLockMs?: number } = {}): WorkerDeps {
  return {
    ...workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: systems(o), visibilityOf: () => "public" }),
    ...(o.githubApps ? { githubApps: o.githubApps } : {}),
    ...(o.jobLockMs ? { jobLockMs: o.jobLockMs } : {}),
  };
}

const logged = (msg: string) => logs.filter((l) => l.msg === msg);

// ---------------------------------------------------------------------------------------------
// processReconcile
// ---------------------------------------------------------------------------------------------

/** GitHub's app endpoints as the reconciler reads them: the app's webhook deliveries, and the redeliveries asked for. */
function githubApp(deliveries: { id: number; guid: string; status_code: number; delivered_at: string }[]) {
  const asked: number[] = [];
  const apps = {
    appClient: async () => ({
      request: async (route: string, params: { delivery_id?: number }) => {
        if (route === "GET /app/hook/deliveries") return { data: deliveries, headers: {} };
        asked.push(params.delivery_id!);
        return { data: {}, headers: {} };
      },
    }),
  };
  return { apps: apps as unknown as GithubApps, asked };
}

const tagJobs = async () =>
  (await queues().events.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === "tag").sort((a, b) => Number(a.timestamp) - Number(b.timestamp) || a.id!.localeCompare(b.id!));

describe("processReconcile: which upstreams it lists", () => {
  it("lists each upstream something depends on, on a system that is a source, and not watched: its result counts them", async () => {
    const result = await processReconcile(makeDeps(), log);

    expect(forge.listed).toEqual([
      { repo: "upco/lib", host: undefined }, { repo: "grp/gl", host: "gitlab.example.org" }, { repo: "grp/gd", host: undefined },
    ]);
    expect(result).toEqual({ projects: 3, enqueued: [], redelivered: [] });
  });

  it("leaves out the upstreams of a system that is no source of tags", async () => {
    const result = await processReconcile(makeDeps({ noGitlabSource: true }), log);

    expect(forge.listed.map((l) => l.repo)).toEqual(["upco/lib"]);
    expect(result.projects).toBe(1);
    expect(logged("reconcile: cannot list the tags (is the app installed there?)")).toEqual([]);
  });
});

describe("processReconcile: a baseline first, then the tags no delivery announced", () => {
  it("takes a baseline at the first look: nothing enqueued, every listed tag counts as seen", async () => {
    forge.tagLists["upco/lib"] = [{ name: "v1.1", sha: SHA }, { name: "v1.0", sha: SHA }];
    const deps = makeDeps();

    const first = await processReconcile(deps, log);
    const again = await processReconcile(deps, log);

    expect(first.enqueued).toEqual([]);
    expect(again.enqueued).toEqual([]);
    expect(await tagJobs()).toEqual([]);
    expect(await deps.seen.unseen("up", ["v1.1", "v1.0", "v2.0"])).toEqual(["v2.0"]);
    const baselines = logged("reconcile: baseline taken; tags from now on are relayed even without a delivery");
    expect(baselines.map((l) => [l.level, l.upstream, l.tags])).toEqual([[INFO, "up", 2], [INFO, "gl", 0], [INFO, "gd", 0]]);
    expect(logged("reconcile: tags that no delivery announced were enqueued")).toEqual([]);
  });

  it("enqueues each tag listed after the baseline once, as a tag event with its own commit, and says so", async () => {
    const deps = makeDeps();
    forge.tagLists["upco/lib"] = [{ name: "v1.0", sha: SHA }];
    await processReconcile(deps, log);
    forge.tagLists["upco/lib"] = [{ name: "v3.0", sha: OTHER_SHA }, { name: "v2.0", sha: SHA }, { name: "v1.0", sha: SHA }];
    forge.tagLists["grp/gl"] = [{ name: "v9", sha: OTHER_SHA }];
    const before = Date.now();

    const result = await processReconcile(deps, log);
    const again = await processReconcile(deps, log);

    expect(result).toEqual({ projects: 3, enqueued: ["up@v3.0", "up@v2.0", "gl@v9"], redelivered: [] });
    expect(again.enqueued).toEqual([]);
    const jobs = await tagJobs();
    const deliveryIds = [`reconcile-up-v3.0-${OTHER_SHA}`, `reconcile-up-v2.0-${SHA}`, `reconcile-gl-v9-${OTHER_SHA}`];
    // The job id is the delivery's, as for a webhook: a tag reconciled twice (two processes) is one job.
    expect(jobs.map((j) => j.id)).toEqual(deliveryIds.map((d) => deliveryJobId("reconcile", d)));
    expect(jobs.map((j) => j.data)).toStrictEqual([
      { forge: "github", repo: "upco/lib", tag: "v3.0", sha: OTHER_SHA, source: "reconcile", deliveryId: deliveryIds[0], receivedAt: expect.any(String) },
      { forge: "github", repo: "upco/lib", tag: "v2.0", sha: SHA, source: "reconcile", deliveryId: deliveryIds[1], receivedAt: expect.any(String) },
      { forge: "gitlab", host: "gitlab.example.org", repo: "grp/gl", tag: "v9", sha: OTHER_SHA, source: "reconcile", deliveryId: deliveryIds[2], receivedAt: expect.any(String) },
    ]);
    for (const j of jobs) {
      const at = Date.parse((j.data as { receivedAt: string }).receivedAt);
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(Date.now());
    }
    const told = logged("reconcile: tags that no delivery announced were enqueued");
    expect(told.map((l) => [l.level, l.upstream, l.tags])).toEqual([[WARN, "up", ["v3.0", "v2.0"]], [WARN, "gl", ["v9"]]]);
  });

  it("looks at a project's latest 100 tags only (the listing's window)", async () => {
    const deps = makeDeps();
    await processReconcile(deps, log);
    forge.tagLists["upco/lib"] = Array.from({ length: 101 }, (_, i) => ({ name: `v0.${100 - i}`, sha: SHA }));

    const result = await processReconcile(deps, log);

    expect(result.enqueued).toHaveLength(100);
    expect(result.enqueued[0]).toBe("up@v0.100");
    expect(result.enqueued).not.toContain("up@v0.0");
    expect(await deps.seen.unseen("up", ["v0.1", "v0.0"])).toEqual(["v0.0"]);
  });

  it("goes on with the other upstreams when one's tags cannot be listed, and says which", async () => {
    const deps = makeDeps();
    await processReconcile(deps, log);
    forge.listFailures["upco/lib"] = new Error("Not Found");
    forge.tagLists["grp/gd"] = [{ name: "v5", sha: SHA }];

    const result = await processReconcile(deps, log);

    expect(result).toEqual({ projects: 3, enqueued: ["gd@v5"], redelivered: [] });
    expect(logged("reconcile: cannot list the tags (is the app installed there?)")).toEqual([
      expect.objectContaining({ level: WARN, upstream: "up", repo: "upco/lib", err: "Not Found" }),
    ]);
  });
});

describe("processReconcile: GitHub's failed deliveries", () => {
  it("without a GitHub App, asks nothing and says nothing of deliveries", async () => {
    const result = await processReconcile(makeDeps(), log);

    expect(result.redelivered).toEqual([]);
    expect(logged("reconcile: cannot list the app's failed deliveries")).toEqual([]);
  });

  it("asks GitHub to redeliver a delivery that failed, before listing tags, and returns it", async () => {
    const { apps, asked } = githubApp([{ id: 41, guid: "g-41", status_code: 502, delivered_at: new Date().toISOString() }]);

    const result = await processReconcile(makeDeps({ githubApps: apps }), log);

    expect(asked).toEqual([41]);
    expect(result).toEqual({ projects: 3, enqueued: [], redelivered: ["g-41"] });
  });

  it("when the deliveries cannot be listed, says why and still reconciles the tags", async () => {
    const apps = { appClient: async () => { throw new Error("the app's private key is not set"); } } as unknown as GithubApps;
    const deps = makeDeps({ githubApps: apps });
    await processReconcile(deps, log);
    forge.tagLists["upco/lib"] = [{ name: "v2", sha: SHA }];

    const result = await processReconcile(deps, log);

    expect(result).toEqual({ projects: 3, enqueued: ["up@v2"], redelivered: [] });
    expect(logged("reconcile: cannot list the app's failed deliveries")).toEqual([
      expect.objectContaining({ level: WARN, err: "the app's private key is not set" }),
      expect.objectContaining({ level: WARN, err: "the app's private key is not set" }),
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// startWorkers
// ---------------------------------------------------------------------------------------------

/**
 * The subscribers' side of a delivery (DeliveryDeps): the history is this file's Redis; every sink
 * is a broker (`mqtt`) whose connection is `load`ed before publishing, and `loads` lets the test
 * decide what loading does (wait, hold the job back, fail). A record in `privateNow` names a
 * project that is private now (the public reader hides it).
 */
function delivery(o: { transports?: boolean } = {}) {
  const loads: (() => Promise<void>)[] = [];
  const privateNow = new Set<string>();
  const published: string[] = [];
  let closed = 0;
  let loading = 0;
  let loaded = 0;
  const deps = {
    history: new HistoryStore(redis()),
    sinks: { get: (id: string) => ({ id, kind: "mqtt", private: false }), list: () => [], map: () => map },
    stats: { delivered: async () => undefined, failedAttempt: async () => undefined },
    eventSource: "https://relay.example.org",
    readers: { public: { visible: async (records: { cid: string }[]) => records.filter((r) => !privateNow.has(r.cid)) }, all: {} },
    ...(o.transports === false ? {} : {
      transports: {
        prune: () => undefined,
        load: async () => {
          loading++;
          try {
            await (loads.shift() ?? (async () => undefined))();
          } finally {
            loaded++;
          }
        },
        broker: (sink: { id: string }) => ({ publish: async () => void published.push(sink.id) }),
        close: async () => void closed++,
      },
    }),
  } as unknown as DeliveryDeps;
  return { deps, loads, privateNow, published, closed: () => closed, loading: () => loading, loaded: () => loaded };
}

/** A record of the history to deliver (a refused trigger of `down`), by its CID. */
async function aRecord(tag = "v1.0.0"): Promise<string> {
  return String(await makeDeps().history.trigger(triggerData("down", { upstream: upstreamRef({ tag }) }), "refused", { reason: "no longer in the map" }));
}

/** A promise the test resolves: a job waits on it while active. */
function gate(): { wait: () => Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { wait: () => opened, open };
}

let workerConnection: Redis | undefined;
let workers: Workers | undefined;
let current: ReturnType<typeof delivery> | undefined;
const releases: (() => void)[] = [];

function start(o: { jobLockMs?: number; transports?: boolean } = {}) {
  const { host, port } = redis().options;
  // No reconnecting once this file's Redis is gone: a worker's blocking connection that BullMQ opens
  // again after close (see the grace-period test) must not keep the test process alive.
  workerConnection = new Redis({ host: host!, port: port!, maxRetriesPerRequest: null, retryStrategy: () => null });
  const d = delivery(o);
  workers = startWorkers(workerConnection, { ...makeDeps(o), delivery: d.deps });
  current = d;
  return d;
}

afterEach(async () => {
  // Deliveries a test left waiting end before the connection goes (a closed worker's job still runs to its end).
  for (const release of releases.splice(0)) release();
  const d = current;
  if (d) await waitFor("the deliveries left waiting to end", () => d.loaded() === d.loading(), 5_000);
  jest.restoreAllMocks();
  await workers?.close(true);
  workers = undefined;
  current = undefined;
  await workerConnection?.quit().catch(() => undefined);
  workerConnection?.disconnect();
  workerConnection = undefined;
});

type QueueKey = "events" | "trigger" | "report" | "sinks";

/** A job once its processor has answered: completed, or an attempt failed (then it waits for a retry or failed for good). */
async function settled(queue: QueueKey, id: string): Promise<Job> {
  return waitFor(`${queue} job ${id} to be processed`, async () => {
    const job = await queues()[queue].getJob(id);
    return job && (job.finishedOn !== undefined || job.attemptsMade > 0 || job.failedReason) ? job : undefined;
  }, 8_000);
}

const state = (queue: QueueKey, id: string) => queues()[queue].getJob(id).then((j) => j?.getState());

/** When a delayed job is due (ms since the epoch), from BullMQ's delayed set. */
async function dueAt(queue: QueueKey, id: string): Promise<number> {
  const score = await redis().zscore(`${KEY_PREFIX}:${queue}:delayed`, id);
  return Math.floor(Number(score) / 0x1000);
}

async function heldCount(queue: string): Promise<number> {
  return (await jobsHeld.get()).values.find((v) => v.labels.queue === queue)?.value ?? 0;
}

describe("startWorkers: each job reaches the processor of its queue and name", () => {
  it("runs every kind of job the relay queues, each answered by its own processor, with the job's queue, id and delivery in its log", async () => {
    const d = start();
    const deps = makeDeps();
    // A gate's trigger whose check already ended: the artifact gate has nothing left to decide.
    const gated = triggerData("down", { upstream: upstreamRef({ tag: "v0.8" }) });
    const gatedKey = checkKey({ upstream: gated.upstream, sha: SHA, name: gated.checkName });
    await deps.checks.advance(gatedKey, targetOf(gated.upstream), {
      name: gated.checkName, status: "completed", conclusion: "skipped", title: "t", summary: "s", detailsUrl: undefined, externalId: gated.runId,
    });
    // A check recorded and not yet pushed: the report worker writes it.
    const syncKey = checkKey({ upstream: upstreamRef({ tag: "v0.7" }), sha: SHA, name: checkName("down") });
    await deps.checks.advance(syncKey, targetOf(upstreamRef({ tag: "v0.7" })), {
      name: checkName("down"), status: "queued", conclusion: undefined, title: "Queued", summary: "s", detailsUrl: undefined, externalId: "x",
    });
    const deadline = new Date(Date.now() + 3600_000).toISOString();

    const events: [string, object, unknown][] = [
      ["run", { forge: "github", repo: "upco/down", runId: "5", title: "CI", state: "completed", conclusion: "success", webUrl: "https://github.com/upco/down/actions/runs/5", deliveryId: "d-run" }, { correlated: false }],
      ["check", { forge: "github", repo: "upco/lib", sha: SHA, name: "build", conclusion: "success", deliveryId: "d-check" }, { released: 0, skipped: 0 }],
      ["rerun", { forge: "github", repo: "upco/lib", sha: SHA, scope: { kind: "failed" }, deliveryId: "d-rerun" }, { rerun: [] }],
      ["pull-head", { forge: "github", repo: "upco/lib", sha: SHA, deliveryId: "d-pull" }, { triggered: [] }],
      ["change", { forge: "gerrit", host: "https://review.example.org", repo: "p", change: 1, patchSet: 1, ref: "refs/changes/01/1/1", revision: SHA, recheck: false, deliveryId: "d-change" }, { triggered: [], rerun: [] }],
      ["map-refresh", { reason: "periodic" }, { taken: false }],
      ["reconcile", {}, { projects: 3, enqueued: [], redelivered: [] }],
      ["watch-poll", { upstream: "nowhere" }, { outcome: "gone" }],
      ["watch-batch", { forge: "github", upstreams: ["nowhere"] }, {}],
      ["declaration", { forge: "github", repo: "upco/down", reason: "push", deliveryId: "d-decl" }, { declared: false }],
      ["tag", { forge: "github", repo: "elsewhere/lib", tag: "v1", sha: SHA, source: "push", deliveryId: "d-tag", receivedAt: ISO }, { upstreams: 0, triggers: 0 }],
    ];
    const onTrigger: [string, object, unknown][] = [
      // A run timeout of a trigger whose check is not recorded (expired): nothing to time out.
      ["timeout", { trigger: triggerData("down", { upstream: upstreamRef({ tag: "v0.9" }) }), timeout: "6h" }, { timedOut: false }],
      ["poll", { relayRunId: "trigger-00000000000000000000000000000000", round: 1 }, { done: true }],
      ["artifacts", { trigger: gated, artifacts: ["pkg:npm/lib@0.8.0"], deadline, timeout: "1h", round: 0 }, { decision: "failed", published: 0 }],
      ["gate-poll", { forge: "github", repo: "upco/lib", sha: SHA, name: "build", ref: "v1.0.0", round: 0, deadline }, { done: true }],
      ["trigger", triggerData("down"), expect.objectContaining({ kind: "workflow_dispatch", runId: expect.any(String) })],
    ];
    for (const [name, data] of events) await queues().events.add(name as never, data as never, { jobId: `e-${name}` });
    for (const [name, data] of onTrigger) await queues().trigger.add(name as never, data as never, { jobId: `t-${name}` });
    await queues().report.add("sync", { checkKey: syncKey }, { jobId: "r-sync" });
    const hidden = await aRecord();
    d.privateNow.add(hidden);
    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: hidden }, { jobId: "s-deliver" });

    for (const [name, , expected] of events) {
      const job = await settled("events", `e-${name}`);
      expect([name, job.failedReason, job.returnvalue]).toEqual([name, undefined, expected]);
    }
    for (const [name, , expected] of onTrigger) {
      const job = await settled("trigger", `t-${name}`);
      expect([name, job.failedReason, job.returnvalue]).toEqual([name, undefined, expected]);
    }
    const report = await settled("report", "r-sync");
    expect(report.returnvalue).toBe(forge.statuses[0]?.id);
    expect(forge.statuses.map((s) => s.report.name)).toEqual([checkName("down")]);
    expect((await settled("sinks", "s-deliver")).returnvalue).toEqual({ withheld: "private" });

    // Each processor logs through a child logger naming the job's queue, id and delivery.
    expect(logged("run not started by the relay")).toEqual([expect.objectContaining({ level: DEBUG, queue: "events", jobId: "e-run", deliveryId: "d-run" })]);
    expect(logged("downstream triggered")).toEqual([expect.objectContaining({ level: INFO, queue: "trigger", jobId: "t-trigger", deliveryId: "d-1" })]);
    expect(logged("upstream check updated")).toEqual([expect.objectContaining({ level: DEBUG, queue: "report", jobId: "r-sync" })]);
    expect(logged("record names a project that is private now: not sent to this subscriber")).toEqual([expect.objectContaining({ level: INFO, queue: "sinks", jobId: "s-deliver" })]);
  }, 30_000);
});

describe("startWorkers: how the workers run their jobs", () => {
  it("runs a queue's jobs side by side (sinks: two deliveries at once)", async () => {
    const d = start();
    const first = gate();
    const second = gate();
    releases.push(first.open, second.open);
    d.loads.push(first.wait, second.wait);

    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "one" });
    await queues().sinks.add("deliver" as never, { sinkId: "s2", cid: await aRecord() }, { jobId: "two" });

    await waitFor("both deliveries active at once", () => d.loading() === 2, 5_000);
    first.open();
    second.open();
    expect((await settled("sinks", "one")).returnvalue).toEqual({ published: "mqtt" });
    expect((await settled("sinks", "two")).returnvalue).toEqual({ published: "mqtt" });
    expect(d.published.sort()).toEqual(["s1", "s2"]);
  });

  it.each([
    ["OPENCI_JOB_LOCK_MS set: the job's lock lasts that long", 1_500, (ttl: number) => ttl > 0 && ttl <= 1_500],
    ["no OPENCI_JOB_LOCK_MS: BullMQ's 30 s", undefined, (ttl: number) => ttl > 1_500 && ttl <= 30_000],
  ])("locks an active job (%s)", async (_what, jobLockMs, fits) => {
    const d = start(jobLockMs ? { jobLockMs } : {});
    const waiting = gate();
    releases.push(waiting.open);
    d.loads.push(waiting.wait);

    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "locked" });
    await waitFor("the delivery active", () => d.loading() === 1, 5_000);

    const ttl = await redis().pttl(`${KEY_PREFIX}:sinks:locked:lock`);
    expect([ttl, fits(ttl)]).toEqual([ttl, true]);
    waiting.open();
    expect(await (await settled("sinks", "locked")).returnvalue).toEqual({ published: "mqtt" });
  });

  it("retries a failed job after the forge's backoff (the queue's delay, doubled per attempt), and says the job failed", async () => {
    start();
    jest.spyOn(Math, "random").mockReturnValue(0.5);
    forge.fail("triggerPipeline", new ForgeError("Bad Gateway", "transient", { status: 502 }));
    const before = Date.now();

    await queues().trigger.add("trigger", triggerData("down"), { jobId: "retried" });
    const job = await settled("trigger", "retried");

    expect(job.attemptsMade).toBe(1);
    expect(await state("trigger", "retried")).toBe("delayed");
    // forgeBackoff: 2 s (the trigger queue's delay) × 2^0, plus 10 % of it for the pinned jitter.
    const due = await dueAt("trigger", "retried");
    expect(due).toBeGreaterThanOrEqual(before + 2_200);
    expect(due).toBeLessThanOrEqual(Date.now() + 2_200);
    expect(logged("job failed")).toEqual([
      expect.objectContaining({ level: WARN, queue: "trigger", jobId: "retried", attemptsMade: 1, reason: "Bad Gateway" }),
    ]);
  });

  it("logs a worker's connection errors with its queue", async () => {
    start();

    workerConnection!.emit("error", new Error("ECONNRESET"));

    const lines = logged("worker error");
    expect(lines.map((l) => [l.level, l.queue, (l.err as { message: string }).message]).sort()).toEqual([
      [ERROR, "events", "ECONNRESET"], [ERROR, "report", "ECONNRESET"], [ERROR, "sinks", "ECONNRESET"], [ERROR, "trigger", "ECONNRESET"],
    ]);
  });
});

describe("startWorkers: a job held back spends no attempt and holds no worker", () => {
  it("puts a rate-limited job back in the delayed set for the forge's retry-after (plus up to 250 ms), counts and says it", async () => {
    start();
    jest.spyOn(Math, "random").mockReturnValue(0.5);
    forge.fail("triggerPipeline", new ForgeError("API rate limit exceeded", "rate_limited", { status: 403, retryAfterMs: 30_000 }));
    const heldBefore = await heldCount("trigger");
    const before = Date.now();

    await queues().trigger.add("trigger", triggerData("down"), { jobId: "limited" });
    await waitFor("the job held", async () => (await state("trigger", "limited")) === "delayed" && logged("rate limited: the job waits in the queue").length > 0);

    const job = (await queues().trigger.getJob("limited"))!;
    expect(job.attemptsMade).toBe(0);
    const due = await dueAt("trigger", "limited");
    expect(due).toBeGreaterThanOrEqual(before + 30_125);
    expect(due).toBeLessThanOrEqual(Date.now() + 30_125);
    expect(await heldCount("trigger")).toBe(heldBefore + 1);
    expect(logged("rate limited: the job waits in the queue")).toEqual([
      expect.objectContaining({ level: INFO, queue: "trigger", jobId: "limited", waitMs: 30_125, reason: "API rate limit exceeded" }),
    ]);
    expect(logged("job failed")).toEqual([]);
  });

  it("waits a minute when the forge did not say how long", async () => {
    start();
    jest.spyOn(Math, "random").mockReturnValue(0.5);
    forge.fail("triggerPipeline", new ForgeError("secondary rate limit", "rate_limited", { status: 403 }));
    const before = Date.now();

    await queues().trigger.add("trigger", triggerData("down"), { jobId: "limited" });
    await waitFor("the job held", async () => (await state("trigger", "limited")) === "delayed" && logged("rate limited: the job waits in the queue").length > 0);

    const due = await dueAt("trigger", "limited");
    expect(due).toBeGreaterThanOrEqual(before + 60_125);
    expect(due).toBeLessThanOrEqual(Date.now() + 60_125);
    expect(logged("rate limited: the job waits in the queue")[0]).toMatchObject({ waitMs: 60_125 });
  });

  it("puts a job that holds itself back in the delayed set for as long as it says (plus up to 100 ms), uncounted", async () => {
    const d = start();
    jest.spyOn(Math, "random").mockReturnValue(0.99);
    let thrownAt = 0;
    d.loads.push(async () => {
      thrownAt = Date.now();
      throw new HoldJob("another delivery is telling the chat about this release", 45_000);
    });
    const heldBefore = await heldCount("sinks");

    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "held", attempts: 3 });
    await waitFor("the job held", async () => (await state("sinks", "held")) === "delayed" && logged("held: the job waits in the queue").length > 0);

    const job = (await queues().sinks.getJob("held"))!;
    expect(job.attemptsMade).toBe(0);
    // Due 45 s plus the pinned jitter (99 ms) after the job threw, give or take the few ms of its way up to the worker.
    const due = await dueAt("sinks", "held");
    expect(due - thrownAt).toBeGreaterThanOrEqual(45_099);
    expect(due - thrownAt).toBeLessThanOrEqual(45_099 + 40);
    expect(await heldCount("sinks")).toBe(heldBefore);
    expect(logged("held: the job waits in the queue")).toEqual([
      expect.objectContaining({ level: DEBUG, queue: "sinks", jobId: "held", waitMs: 45_000, reason: "another delivery is telling the chat about this release" }),
    ]);
    expect(logged("job failed")).toEqual([]);
  });

  it("lets any other error fail the attempt", async () => {
    const d = start();
    d.loads.push(async () => { throw new Error("connection refused"); });

    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "broken", attempts: 1 });
    const job = await settled("sinks", "broken");

    expect([job.attemptsMade, job.failedReason, await state("sinks", "broken")]).toEqual([1, "connection refused", "failed"]);
    expect(logged("held: the job waits in the queue")).toEqual([]);
    expect(logged("rate limited: the job waits in the queue")).toEqual([]);
  });
});

describe("startWorkers: close", () => {
  /** Whether `work` ended within `ms`. */
  async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([work.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return ended;
  }

  it("by default waits for the active jobs to finish, then closes the subscribers' connections", async () => {
    const d = start();
    const waiting = gate();
    releases.push(waiting.open);
    d.loads.push(waiting.wait);
    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "busy" });
    await waitFor("the delivery active", () => d.loading() === 1, 5_000);

    const closing = workers!.close();
    // A bounded look for "not closed yet": nothing observable marks a close that waits, only one that ended.
    expect(await within(closing, 300)).toBe(false);
    expect(d.closed()).toBe(0);
    waiting.open();
    expect(await within(closing, 5_000)).toBe(true);

    expect(await state("sinks", "busy")).toBe("completed");
    expect(d.closed()).toBe(1);
    workers = undefined;
  });

  it("stops waiting after the grace period, handing the active job back", async () => {
    const d = start();
    // Never let go: a job that ends after a grace period ran out makes BullMQ reconnect the closed
    // worker's blocking connection (its pause, still waiting, reconnects once the job ends), which
    // would outlive the test. See TESTING.md (workers-start).
    d.loads.push(() => new Promise<void>(() => undefined));
    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "stuck" });
    await waitFor("the delivery active", () => d.loading() === 1, 5_000);

    expect(await within(workers!.close(false, 200), 5_000)).toBe(true);

    expect(await state("sinks", "stuck")).toBe("active");
    expect(d.closed()).toBe(1);
    workers = undefined;
    current = undefined;
  });

  it("with force, does not wait for the active jobs", async () => {
    const d = start();
    const never = gate();
    releases.push(never.open);
    d.loads.push(never.wait);
    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "stuck" });
    await waitFor("the delivery active", () => d.loading() === 1, 5_000);

    expect(await within(workers!.close(true, 60_000), 2_000)).toBe(true);

    expect(await state("sinks", "stuck")).toBe("active");
    workers = undefined;
  });

  it("closes a worker with no broker or chat connections", async () => {
    start({ transports: false });

    expect(await within(workers!.close(), 5_000)).toBe(true);
    workers = undefined;
  });
});

describe("a job that ends after close's grace period", () => {
  it("opens no connection of the closed workers again (BullMQ's pause(false) reconnects when the job ends)", async () => {
    const d = start();
    const late = gate();
    d.loads.push(late.wait);
    await queues().sinks.add("deliver" as never, { sinkId: "s1", cid: await aRecord() }, { jobId: "late" });
    await waitFor("the delivery active", () => d.loading() === 1, 5_000);
    const clients = async () => (await redis().client("LIST") as string).split("\n").filter((l) => l.trim() !== "").length;

    await workers!.close(false, 200);
    workers = undefined;
    await workerConnection!.quit();
    const afterClose = await clients();
    late.open();
    await waitFor("the delivery to end", () => d.loaded() === 1);
    current = undefined;

    // Give BullMQ's pending pause its chance to reconnect (a bounded look for something that must not happen).
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await clients()).toBe(afterClose);
  });
});
