/**
 * The watcher in-process against a real Redis: `startWatcher` (the timer every worker process runs),
 * `processWatchTick` (claims the watched upstreams that are due and queues their polls: one job per
 * upstream, or one batch per system that reads many at once, filled with upstreams due soon),
 * `processWatchPoll` and `processWatchBatch` (one look at an upstream's tags, alone or together) and
 * what a look means (watch-listing's `applyListing` and `recordFailure`: a baseline, new and moved
 * tags enqueued as tag events, deletions forgotten, a failure said once and retried soon when it was
 * passing). The systems' side (the tags each repository holds, its ETag, a failure) is held in memory
 * here; the schedule, the state, BullMQ's jobs and the metrics are the real ones. Written to kill the
 * mutants of src/workers/{watch,watch-batch,watch-listing}.ts (`npm run test:mutation --
 * workers-watch`, TESTING.md), which the end-to-end files (watch-git, watch-forges) reach only through
 * a relay polling every 300 ms, seconds a test.
 */
import { beforeEach, describe, expect, it } from "@jest/globals";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { ForgeError } from "../../src/forge/errors.js";
import { Systems, type SystemDriver } from "../../src/forge/registry.js";
import type { BatchSource, Source, TagListing } from "../../src/forge/roles.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap } from "../../src/map/load.js";
import { watchNewTags, watchPolls } from "../../src/metrics.js";
import { deliveryJobId, watchBatchJobId, watchJobId, watchTagDeliveryId } from "../../src/queue/job-ids.js";
import { key } from "../../src/queue/names.js";
import { createRedis, waitForRedis } from "../../src/redis/connection.js";
import { WatchState } from "../../src/watch/watch-state.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { processWatchPoll, processWatchTick, startWatcher, watchTickMs } from "../../src/workers/watch.js";
import { processWatchBatch } from "../../src/workers/watch-batch.js";
import { WATCH_RETRY_MS } from "../../src/workers/watch-listing.js";
import { httpError } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { waitFor } from "../helpers/wait-for.js";
import { capturedLog, DEBUG, INFO, type LogLine, useWorkerQueues, WARN, workerDeps } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

const NOVA = "https://git.example.org/nova";
const GLANCE = "https://git.example.org/glance";

/**
 * Watched upstreams of each kind: git hosts (watched by nature; `glance` every 20 s), GitHub
 * repositories named `watch:` (read by the batch source), GitLab projects named `watch:` (read one
 * by one, without ETags), one on another GitLab instance. Not watched: `lone` (nothing depends on
 * it) and `hooked` (GitHub, webhooks). `app` depends on every other one.
 */
const mapText = (extra: string[] = []) => {
  const upstreams = [
    `{ id: nova, foundation: f, git: ${NOVA} }`,
    `{ id: glance, foundation: f, git: ${GLANCE}, watch: { interval: 20s } }`,
    "{ id: lib, foundation: f, github: upco/lib, watch: {} }",
    "{ id: lib2, foundation: f, github: upco/lib2, watch: {} }",
    "{ id: lib3, foundation: f, github: upco/lib3, watch: {} }",
    "{ id: lib4, foundation: f, github: upco/lib4, watch: {} }",
    "{ id: hooked, foundation: f, github: upco/hooked }",
    "{ id: gl, foundation: f, gitlab: grp/gl, watch: {} }",
    "{ id: glh, foundation: f, gitlab: { host: gitlab.other.org, project: grp/glh }, watch: {} }",
    ...extra,
  ];
  const ids = upstreams.map((u) => /id: ([\w-]+)/.exec(u)![1]!);
  return `
version: 2
foundations: [{ id: f, name: F }]
projects:
${upstreams.map((u) => `  - ${u}`).join("\n")}
  - { id: lone, foundation: f, git: https://git.example.org/lone }
  - { id: app, foundation: f, github: upco/app, trigger: { workflow: ci.yml, ref: main }, depends_on: [${ids.map((id) => `{ project: ${id} }`).join(", ")}] }
`;
};
const MAP = parseMap(mapText());
/** With `fast`, a GitHub upstream polled every 10 s. */
const FAST_MAP = parseMap(mapText(["{ id: fast, foundation: f, github: upco/fast, watch: { interval: 10s } }"]));
/** With `twin`, a second map entry on upco/lib. */
const TWIN_MAP = parseMap(mapText(["{ id: twin, foundation: f, github: upco/lib, watch: {} }"]));

const [A, B, C, D, E] = ["a", "b", "c", "d", "e"].map((c) => c.repeat(40)) as [string, string, string, string, string];
const MIN = 60_000;
/** Far enough that no early fill reaches it (a quarter of the longest interval here is 75 s). */
const FAR = 10 * 3600_000;
/** The warning a failed look logs once per distinct error (what an operator reads to fix the map). */
const CANNOT_READ = "watch: cannot read this upstream's tags; it is polled again (within 30 s if the failure was passing, else at its next interval; the others go on). Fix the map entry's address, or remove the entry";
/** What a tick that cannot claim the due upstreams warns, once until a tick works again. */
const CANNOT_CLAIM = "watch: cannot claim the upstreams due (is Redis reachable?); trying again at the next tick";
const DEFAULT_HINT = "check that the address is right and the repository public";

/**
 * A system's side of its watched repositories, held in memory: each one's tags and an ETag that
 * changes with every write, whether a listing is complete, failures planted by the test, and every
 * read asked of it.
 */
class HeldTags implements Source {
  readonly reads: { op: "watchTags" | "listTags"; repo: string; etag?: string | undefined }[] = [];
  /** the error each repository's next read throws */
  readonly failures = new Map<string, unknown>();
  /** repositories whose listing holds only the newest tags (`complete: false`) or says it holds all (`true`) */
  readonly complete = new Map<string, boolean>();
  private readonly held = new Map<string, { tags: Record<string, string>; version: number }>();

  set(repo: string, tags: Record<string, string>): void {
    this.held.set(repo, { tags: { ...tags }, version: (this.held.get(repo)?.version ?? 0) + 1 });
  }

  etagOf(repo: string): string {
    return `"${repo}@${this.held.get(repo)?.version ?? 0}"`;
  }

  listing(repo: string, etag: string | undefined): TagListing {
    const h = this.held.get(repo) ?? { tags: {}, version: 0 };
    if (etag !== undefined && etag === this.etagOf(repo)) return { notModified: true, etag };
    const complete = this.complete.get(repo);
    return {
      notModified: false, tags: Object.entries(h.tags).map(([name, sha]) => ({ name, sha })), etag: this.etagOf(repo),
      ...(complete === undefined ? {} : { complete }),
    };
  }

  async watchTags(repo: string, etag: string | undefined): Promise<TagListing> {
    this.reads.push({ op: "watchTags", repo, etag });
    this.planted(repo);
    return this.listing(repo, etag);
  }

  async listTags(repo: string): Promise<{ name: string; sha: string }[]> {
    this.reads.push({ op: "listTags", repo });
    this.planted(repo);
    return Object.entries(this.held.get(repo)?.tags ?? {}).map(([name, sha]) => ({ name, sha }));
  }

  async resolveTag(): Promise<never> {
    throw new Error("not used by the watcher");
  }

  async openPullRequests(): Promise<never> {
    throw new Error("not used by the watcher");
  }

  async visibility(): Promise<"public"> {
    return "public";
  }

  private planted(repo: string): void {
    const error = this.failures.get(repo);
    this.failures.delete(repo);
    if (error !== undefined) throw error;
  }
}

/** A system without conditional reads (no `watchTags`): every look lists the tags. */
const listOnly = (h: HeldTags): Source => ({
  listTags: (repo) => h.listTags(repo), resolveTag: () => h.resolveTag(), openPullRequests: () => h.openPullRequests(), visibility: () => h.visibility(),
});

/** A batch source (GitHub's GraphQL) over held tags: what each call asked, errors per repository, repositories it leaves out, a call that fails whole. */
class HeldBatch implements BatchSource {
  readonly asks: { repo: string; etag: string | undefined }[][] = [];
  readonly errors = new Map<string, Error>();
  readonly unanswered = new Set<string>();
  failWhole: unknown;
  constructor(readonly batchSize: number, private readonly held: HeldTags) {}

  async watchTagsOfMany(asks: { repo: string; etag: string | undefined }[]): Promise<Map<string, TagListing | Error>> {
    this.asks.push(asks);
    if (this.failWhole !== undefined) throw this.failWhole;
    const out = new Map<string, TagListing | Error>();
    for (const a of asks) {
      if (this.unanswered.has(a.repo)) continue;
      out.set(a.repo, this.errors.get(a.repo) ?? this.held.listing(a.repo, a.etag));
    }
    return out;
  }
}

let map: DependencyMap;
let git: HeldTags;
let github: HeldTags;
let gitlab: HeldTags;
let batch: HeldBatch;
let logs: LogLine[];
let log: Logger;
let deps: WorkerDeps;

beforeEach(async () => {
  await redis().flushdb();
  map = MAP;
  git = new HeldTags();
  github = new HeldTags();
  gitlab = new HeldTags();
  batch = new HeldBatch(50, github);
  ({ log, lines: logs } = capturedLog());
  deps = makeDeps();
});

/** The systems as src/relay.ts registers them, each reading the held tags: git watched by nature; GitHub read in batches; GitLab one by one. */
function systems(o: { batch?: boolean } = {}): Systems {
  const drivers: Partial<Record<"git" | "github" | "gitlab", SystemDriver>> = {
    git: { source: () => git, pollsRuns: false, signsCheckHooks: false, watched: true },
    github: { source: () => github, pollsRuns: false, signsCheckHooks: true, ...(o.batch === false ? {} : { batchSource: () => batch }) },
    gitlab: { source: () => listOnly(gitlab), pollsRuns: true, signsCheckHooks: false },
  };
  return new Systems(drivers, () => map);
}

function makeDeps(o: { batch?: boolean; watchIntervalMs?: number } = {}): WorkerDeps {
  const d = workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: systems(o), visibilityOf: () => "public" });
  return o.watchIntervalMs === undefined ? d : { ...d, watchIntervalMs: o.watchIntervalMs };
}

const lines = (msg: string) => logs.filter((l) => l.msg === msg);

/** Every watched upstream of `map` due `offsets[id]` ms from now (FAR when not given): the schedule a tick reads. */
async function scheduleIn(offsets: Record<string, number>, ids: string[]): Promise<number> {
  const now = Date.now();
  for (const id of ids) await redis().zadd(key("watch-due"), now + (offsets[id] ?? FAR), id);
  return now;
}
const ALL = ["nova", "glance", "lib", "lib2", "lib3", "lib4", "gl", "glh"];

async function scheduled(): Promise<Map<string, number>> {
  return new WatchState(redis()).schedule();
}

/** The jobs the events queue holds: what the tick and the looks queued. */
async function eventJobs() {
  const jobs = await queues().events.getJobs(["waiting", "delayed", "prioritized", "active"]);
  return jobs.map((j) => ({ name: j.name, id: j.id, data: j.data as Record<string, unknown>, opts: j.opts }));
}

/** The watcher's metrics (openci_watch_polls_total by outcome, openci_watch_new_tags_total), as now. */
async function metrics(): Promise<{ polls: Record<string, number>; newTags: number }> {
  const polls = Object.fromEntries((await watchPolls.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  return { polls, newTags: (await watchNewTags.get()).values[0]?.value ?? 0 };
}
async function metricsSince(before: { polls: Record<string, number>; newTags: number }) {
  const now = await metrics();
  const polls = Object.fromEntries(Object.entries(now.polls).map(([k, v]) => [k, v - (before.polls[k] ?? 0)]).filter(([, v]) => v !== 0));
  return { polls, newTags: now.newTags - before.newTags };
}

describe("watchTickMs: half the shortest interval allowed, within 100 ms and 5 s", () => {
  it.each([[50, 100], [201, 100], [202, 101], [1_000, 500], [9_999, 4_999], [10_000, 5_000], [10_001, 5_000], [3_600_000, 5_000]])("%i ms → %i ms", (min, tick) => {
    expect(watchTickMs(min)).toBe(tick);
  });
});

describe("processWatchTick", () => {
  it("schedules each watched upstream within its interval on its first tick and queues nothing", async () => {
    const t0 = Date.now();
    const result = await processWatchTick(deps, log);
    const t1 = Date.now();
    const schedule = await scheduled();

    expect(result).toEqual({ watched: 8, polled: [] });
    expect([...schedule.keys()].sort()).toEqual([...ALL].sort());
    // git and `watch: {}`: OPENCI_WATCH_INTERVAL_MS's default, 5 min; glance: its own 20 s
    for (const id of ALL.filter((i) => i !== "glance")) expect(schedule.get(id)).toBeGreaterThanOrEqual(t0);
    for (const id of ALL.filter((i) => i !== "glance")) expect(schedule.get(id)).toBeLessThan(t1 + 300_000);
    expect(schedule.get("glance")).toBeLessThan(t1 + 20_000);
    expect(await eventJobs()).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("queues one watch-poll per due upstream of a system read one by one: tried once, removed when done; each due again a whole interval on", async () => {
    const t0 = await scheduleIn({ nova: -1, glance: -1, gl: -1, glh: -1 }, ALL);
    const result = await processWatchTick(deps, log);
    const t1 = Date.now();
    const schedule = await scheduled();
    const jobs = await eventJobs();

    expect(result.watched).toBe(8);
    expect([...result.polled].sort()).toEqual(["gl", "glance", "glh", "nova"]);
    expect(jobs.map((j) => j.name)).toEqual(["watch-poll", "watch-poll", "watch-poll", "watch-poll"]);
    for (const id of ["nova", "glance", "gl", "glh"]) {
      const job = jobs.find((j) => j.id === watchJobId(id));
      expect(job?.data).toEqual({ upstream: id });
      expect(job?.opts).toMatchObject({ attempts: 1, removeOnComplete: true, removeOnFail: true });
    }
    // the next poll: the interval ± 10 % (nova: 5 min by default; glance: 20 s)
    expect(schedule.get("nova")).toBeGreaterThanOrEqual(t0 + 270_000);
    expect(schedule.get("nova")).toBeLessThanOrEqual(t1 + 330_000);
    expect(schedule.get("glance")).toBeGreaterThanOrEqual(t0 + 18_000);
    expect(schedule.get("glance")).toBeLessThanOrEqual(t1 + 22_000);
    expect(schedule.get("lib")).toBe(t0 + FAR);
    expect(lines("watch: polls queued")).toEqual([expect.objectContaining({ level: DEBUG, upstreams: expect.arrayContaining(["nova", "glance", "gl", "glh"]), batches: {} })]);
  });

  it("reschedules by OPENCI_WATCH_INTERVAL_MS where the map gives no interval", async () => {
    deps = makeDeps({ watchIntervalMs: MIN });
    const t0 = await scheduleIn({ nova: -1 }, ALL);
    await processWatchTick(deps, log);
    const t1 = Date.now();

    expect((await scheduled()).get("nova")).toBeGreaterThanOrEqual(t0 + 54_000);
    expect((await scheduled()).get("nova")).toBeLessThanOrEqual(t1 + 66_000);
  });

  it("queues one watch-batch for a system that reads many at once, beside the single polls of the others", async () => {
    await scheduleIn({ lib: -1, lib2: -1, lib3: -1, nova: -1 }, ALL);
    const result = await processWatchTick(deps, log);
    const jobs = await eventJobs();

    expect([...result.polled].sort()).toEqual(["lib", "lib2", "lib3", "nova"]);
    expect(jobs.map((j) => [j.name, j.id]).sort()).toEqual([
      ["watch-batch", watchBatchJobId("github", ["lib", "lib2", "lib3"])],
      ["watch-poll", watchJobId("nova")],
    ].sort());
    const b = jobs.find((j) => j.name === "watch-batch")!;
    expect(b.data).toEqual({ forge: "github", upstreams: ["lib", "lib2", "lib3"] });
    expect(b.opts).toMatchObject({ attempts: 1, removeOnComplete: true, removeOnFail: true });
    expect(lines("watch: polls queued")).toEqual([expect.objectContaining({ upstreams: ["nova"], batches: { github: ["lib", "lib2", "lib3"] } })]);
  });

  it("without a batch source, a GitHub upstream is polled on its own", async () => {
    deps = makeDeps({ batch: false });
    await scheduleIn({ lib: -1, lib2: -1 }, ALL);
    await processWatchTick(deps, log);

    expect((await eventJobs()).map((j) => `${j.name} ${String(j.data.upstream)}`).sort()).toEqual(["watch-poll lib", "watch-poll lib2"]);
  });

  it("fills a batch's last request with upstreams of its system due within a quarter of their interval, never another system's, at most the room left", async () => {
    batch = new HeldBatch(3, github);
    // lib due; lib2, lib3, lib4 due within 75 s (a quarter of 5 min); nova (git) too, but it is not GitHub's
    const t0 = await scheduleIn({ lib: -1, lib2: 10_000, lib3: 20_000, lib4: 30_000, nova: 10_000 }, ALL);
    const result = await processWatchTick(deps, log);
    const schedule = await scheduled();

    expect([...result.polled].sort()).toEqual(["lib", "lib2", "lib3"]);
    expect((await eventJobs()).map((j) => [j.name, j.data])).toEqual([["watch-batch", { forge: "github", upstreams: ["lib", "lib2", "lib3"] }]]);
    // polled early, each is next due a whole interval on; lib4 and nova keep their time
    expect(schedule.get("lib2")).toBeGreaterThanOrEqual(t0 + 270_000);
    expect(schedule.get("lib4")).toBe(t0 + 30_000);
    expect(schedule.get("nova")).toBe(t0 + 10_000);
  });

  it("takes no upstream early when the due ones fill their requests exactly, nor one due later than a quarter of its interval", async () => {
    batch = new HeldBatch(2, github);
    await scheduleIn({ lib: -1, lib2: -1, lib3: 10_000 }, ALL);
    expect([...(await processWatchTick(deps, log)).polled].sort()).toEqual(["lib", "lib2"]);

    await redis().flushdb();
    await scheduleIn({ lib: -1, lib2: 80_000 }, ALL);
    expect((await processWatchTick(deps, log)).polled).toEqual(["lib"]);
  });

  it("measures how soon is soon by the candidates' intervals, not by the upstreams already taken", async () => {
    map = FAST_MAP;
    // fast (every 10 s) is due; lib2 is due in 20 s: within a quarter of its own 5 min, not of fast's 10 s
    await scheduleIn({ fast: -1, lib2: 20_000 }, [...ALL, "fast"]);
    const result = await processWatchTick(deps, log);

    expect([...result.polled].sort()).toEqual(["fast", "lib2"]);
  });
});

describe("startWatcher", () => {
  /** The watcher's ticks, counted where each begins (it reads the map once). */
  function counted(d: WorkerDeps): { deps: WorkerDeps; ticks: () => number } {
    let n = 0;
    return { deps: { ...d, map: () => (n++, map) }, ticks: () => n };
  }

  /** A client of this file's Redis, as the relay makes them (fail fast), whose connection was closed: every command is refused at once. */
  async function closedClient(): Promise<Redis> {
    const { host, port } = redis().options;
    const url = `redis://${host}:${port}`;
    const client = createRedis(url, "client");
    await waitForRedis(client, url);
    client.disconnect();
    await waitFor("the connection closed", () => client.status === "end");
    return client;
  }

  /** stop(), failing the test (rather than hanging it) when it does not return within `ms`. */
  async function stopWithin(watcher: { stop(): Promise<void> }, ms = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`stop() did not return within ${ms} ms`)), ms)));
    try {
      await Promise.race([watcher.stop(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it("ticks at once, then every tickMs, queueing the due polls; after stop() no tick follows", async () => {
    await scheduleIn({ nova: -1 }, ALL);
    const c = counted(deps);
    const watcher = startWatcher(c.deps, 20);
    await waitFor("the poll of the due upstream", async () => (await eventJobs()).some((j) => j.id === watchJobId("nova")));
    await waitFor("three ticks", () => c.ticks() >= 3);
    await stopWithin(watcher);
    const after = c.ticks();
    // "never again" cannot be awaited: ten tick intervals pass and the count must not move
    await new Promise((r) => setTimeout(r, 200));

    expect(c.ticks()).toBe(after);
    // a watcher that never failed has nothing to say at INFO or above
    expect(logs.filter((l) => l.level >= INFO)).toEqual([]);
  });

  it("a tick that cannot reach Redis warns once with Redis' error, says once when it ticks again, and warns again at the next failure", async () => {
    const dead = await closedClient();
    const error = await dead.zrange(key("watch-due"), 0, -1).then(() => "answered", (e: Error) => e.message);
    const c = counted(deps);
    const d: WorkerDeps = { ...c.deps, redis: dead };
    const watcher = startWatcher(d, 10);
    try {
      await waitFor("failing ticks", () => c.ticks() >= 4);
      expect(lines(CANNOT_CLAIM)).toHaveLength(1);
      d.redis = redis();
      await waitFor("ticking again", () => lines("watch: ticking again").length > 0);
      const back = c.ticks();
      await waitFor("more ticks", () => c.ticks() >= back + 3);
      d.redis = dead;
      await waitFor("a second failure", () => lines(CANNOT_CLAIM).length >= 2);
      const failing = c.ticks();
      await waitFor("more failing ticks", () => c.ticks() >= failing + 3);
    } finally {
      await stopWithin(watcher);
    }

    expect(error).not.toBe("answered");
    expect(lines(CANNOT_CLAIM)).toEqual([expect.objectContaining({ level: WARN, err: error }), expect.objectContaining({ level: WARN, err: error })]);
    expect(lines("watch: ticking again")).toEqual([expect.objectContaining({ level: INFO })]);
  });

  it("stop() waits for a tick under way, but not much more than a second for one stalled on a Redis that does not answer", async () => {
    const c = counted(deps);
    // Redis answers no client for 1.5 s (CLIENT PAUSE): the tick's first command waits
    await redis().call("CLIENT", "PAUSE", "1500", "ALL");
    const watcher = startWatcher(c.deps, 10);
    await waitFor("a tick", () => c.ticks() >= 1);
    const t0 = Date.now();
    await stopWithin(watcher);
    const waited = Date.now() - t0;
    // the stalled tick goes on once Redis answers again: it schedules the upstreams (none was), then ends
    await waitFor("the stalled tick's end", async () => (await scheduled()).size === ALL.length);

    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(1_400);
    expect(c.ticks()).toBe(1);
  });
});

describe("processWatchPoll: one look at one upstream", () => {
  it("an upstream gone from the map, or no longer watched, is not read", async () => {
    for (const id of ["gone", "hooked", "lone"]) {
      expect(await processWatchPoll({ upstream: id }, deps, log)).toEqual({ outcome: "gone" });
    }

    expect([...git.reads, ...github.reads]).toEqual([]);
    expect(await redis().keys("*watch*")).toEqual([]);
  });

  it("the first look takes a baseline: the tags it finds are never triggered", async () => {
    git.set(NOVA, { "v0.9": A, "v1.0": B });
    const before = await metrics();
    const result = await processWatchPoll({ upstream: "nova" }, deps, log);
    const state = new WatchState(redis());

    expect(result).toEqual({ outcome: "baseline", tags: 2 });
    expect(git.reads).toEqual([{ op: "watchTags", repo: NOVA, etag: undefined }]);
    expect(await state.tags("nova")).toEqual(new Map([["v0.9", A], ["v1.0", B]]));
    expect(await state.state("nova")).toMatchObject({ baselineAt: expect.any(String), etag: git.etagOf(NOVA), polls: 1 });
    expect(await eventJobs()).toEqual([]);
    expect(await metricsSince(before)).toEqual({ polls: { baseline: 1 }, newTags: 0 });
    expect(logs).toEqual([expect.objectContaining({ level: INFO, msg: "watch: baseline taken; tags from now on are relayed", upstream: "nova", tags: 2 })]);
  });

  it("asks with the last ETag: an answer of 304 reads nothing and changes nothing", async () => {
    git.set(NOVA, { "v1.0": A });
    await processWatchPoll({ upstream: "nova" }, deps, log);
    logs.length = 0;
    const before = await metrics();
    const result = await processWatchPoll({ upstream: "nova" }, deps, log);

    expect(result).toEqual({ outcome: "not_modified" });
    expect(git.reads.at(-1)).toEqual({ op: "watchTags", repo: NOVA, etag: git.etagOf(NOVA) });
    expect(await new WatchState(redis()).state("nova")).toMatchObject({ polls: 2, notModified: 1 });
    expect(await metricsSince(before)).toEqual({ polls: { not_modified: 1 }, newTags: 0 });
    expect(await eventJobs()).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("enqueues a new tag and a moved tag as tag events, each under its own delivery id, and forgets a deleted tag", async () => {
    git.set(NOVA, { "v0.9": A, "v1.0": B });
    await processWatchPoll({ upstream: "nova" }, deps, log);
    git.set(NOVA, { "v1.0": C, "v1.1": D });
    logs.length = 0;
    const before = await metrics();
    const t0 = new Date().toISOString();
    const result = await processWatchPoll({ upstream: "nova" }, deps, log);
    const t1 = new Date().toISOString();
    const state = new WatchState(redis());
    const jobs = await eventJobs();

    expect(result).toEqual({ outcome: "read", enqueued: ["v1.0", "v1.1"], deleted: ["v0.9"] });
    expect(jobs.map((j) => [j.name, j.id]).sort()).toEqual([
      ["tag", deliveryJobId("watch", watchTagDeliveryId("nova", "v1.0", C))],
      ["tag", deliveryJobId("watch", watchTagDeliveryId("nova", "v1.1", D))],
    ].sort());
    const moved = jobs.find((j) => j.data.tag === "v1.0")!;
    expect(moved.data).toEqual({
      forge: "git", repo: NOVA, tag: "v1.0", sha: C, source: "watch", deliveryId: watchTagDeliveryId("nova", "v1.0", C), receivedAt: expect.any(String),
    });
    const receivedAt = String(moved.data.receivedAt);
    expect(receivedAt >= t0 && receivedAt <= t1).toBe(true);
    expect(await state.tags("nova")).toEqual(new Map([["v1.0", C], ["v1.1", D]]));
    expect(await state.state("nova")).toMatchObject({ lastNewTag: "v1.1", etag: git.etagOf(NOVA), polls: 2 });
    expect(await metricsSince(before)).toEqual({ polls: { read: 1 }, newTags: 2 });
    expect(logs).toEqual([
      expect.objectContaining({ level: INFO, msg: "watch: new or moved tags enqueued", upstream: "nova", tags: ["v1.0", "v1.1"] }),
      expect.objectContaining({ level: INFO, msg: "watch: deleted tags forgotten (nothing is triggered for them)", upstream: "nova", tags: ["v0.9"] }),
    ]);
  });

  it("a read that finds the same tags enqueues nothing and says nothing", async () => {
    git.set(NOVA, { "v1.0": A });
    await processWatchPoll({ upstream: "nova" }, deps, log);
    git.set(NOVA, { "v1.0": A }); // a new ETag, the same tags
    logs.length = 0;
    const before = await metrics();

    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "read", enqueued: [], deleted: [] });
    expect(await eventJobs()).toEqual([]);
    expect(logs).toEqual([]);
    expect(await metricsSince(before)).toEqual({ polls: { read: 1 }, newTags: 0 });
  });

  it("a listing of only the newest tags deletes nothing; a listing that says it is complete does", async () => {
    git.set(NOVA, { "v0.9": A, "v1.0": B });
    await processWatchPoll({ upstream: "nova" }, deps, log);
    git.set(NOVA, { "v1.0": B });
    git.complete.set(NOVA, false);

    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "read", enqueued: [], deleted: [] });
    expect(await new WatchState(redis()).tags("nova")).toEqual(new Map([["v0.9", A], ["v1.0", B]]));

    git.set(NOVA, { "v1.0": B });
    git.complete.set(NOVA, true);
    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "read", enqueued: [], deleted: ["v0.9"] });
    expect(await new WatchState(redis()).tags("nova")).toEqual(new Map([["v1.0", B]]));
  });

  it("lists the tags where the system has no conditional read, and names the GitLab instance of a project not on GITLAB_URL's", async () => {
    gitlab.set("grp/gl", { "v1.0": A });
    gitlab.set("grp/glh", { "v1.0": A });
    expect(await processWatchPoll({ upstream: "gl" }, deps, log)).toEqual({ outcome: "baseline", tags: 1 });
    expect(await processWatchPoll({ upstream: "glh" }, deps, log)).toEqual({ outcome: "baseline", tags: 1 });
    gitlab.set("grp/gl", { "v1.0": A, "v2.0": E });
    gitlab.set("grp/glh", { "v1.0": A, "v2.0": E });

    expect(await processWatchPoll({ upstream: "gl" }, deps, log)).toEqual({ outcome: "read", enqueued: ["v2.0"], deleted: [] });
    expect(await processWatchPoll({ upstream: "glh" }, deps, log)).toEqual({ outcome: "read", enqueued: ["v2.0"], deleted: [] });
    expect(gitlab.reads).toEqual([
      { op: "listTags", repo: "grp/gl" }, { op: "listTags", repo: "grp/glh" }, { op: "listTags", repo: "grp/gl" }, { op: "listTags", repo: "grp/glh" },
    ]);
    expect(await new WatchState(redis()).state("gl")).toMatchObject({ etag: undefined, polls: 2 });
    const data = (await eventJobs()).map((j) => j.data).sort((x, y) => String(x.repo).localeCompare(String(y.repo)));
    expect(data).toEqual([
      expect.objectContaining({ forge: "gitlab", repo: "grp/gl", tag: "v2.0", sha: E, source: "watch" }),
      expect.objectContaining({ forge: "gitlab", host: "gitlab.other.org", repo: "grp/glh", tag: "v2.0", sha: E, source: "watch" }),
    ]);
    expect("host" in data[0]!).toBe(false);
  });

  it("a look that fails for a passing reason is retried within 30 s, warned once per distinct error, and said when the tags can be read again", async () => {
    git.set(NOVA, { "v1.0": A });
    const t0 = await scheduleIn({}, ALL);
    git.failures.set(NOVA, httpError(503, "Service Unavailable"));
    const before = await metrics();
    const tFail = Date.now();

    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "error" });
    const t1 = Date.now();
    const due = (await scheduled()).get("nova")!;
    expect(due).toBeGreaterThanOrEqual(tFail + WATCH_RETRY_MS);
    expect(due).toBeLessThanOrEqual(t1 + WATCH_RETRY_MS);
    expect(WATCH_RETRY_MS).toBe(30_000);
    expect((await scheduled()).get("glance")).toBe(t0 + FAR);
    const message = `reading the tags of ${NOVA}: 503 Service Unavailable`;
    expect(await new WatchState(redis()).state("nova")).toMatchObject({ lastError: message, baselineAt: undefined });
    expect(await metricsSince(before)).toEqual({ polls: { error: 1 }, newTags: 0 });
    expect(logs).toEqual([expect.objectContaining({ level: WARN, msg: CANNOT_READ, upstream: "nova", url: NOVA, err: message, hint: DEFAULT_HINT })]);

    // the same failure again: not said again
    git.failures.set(NOVA, httpError(503, "Service Unavailable"));
    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "error" });
    expect(logs).toHaveLength(1);

    // then it reads: said once, the baseline taken
    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "baseline", tags: 1 });
    expect(lines("watch: the upstream's tags can be read again")).toEqual([expect.objectContaining({ level: INFO, upstream: "nova" })]);
    expect(await processWatchPoll({ upstream: "nova" }, deps, log)).toEqual({ outcome: "not_modified" });
    expect(lines("watch: the upstream's tags can be read again")).toHaveLength(1);
  });

  it("a look refused for good waits for its next interval, and the warning gives the system's hint when it has one", async () => {
    const t0 = await scheduleIn({}, ALL);
    git.failures.set(NOVA, httpError(404));
    await processWatchPoll({ upstream: "nova" }, deps, log);
    git.failures.set(NOVA, new ForgeError("not a git repository", "config", { status: 404, hint: "the address is not a repository" }));
    await processWatchPoll({ upstream: "nova" }, deps, log);

    expect((await scheduled()).get("nova")).toBe(t0 + FAR);
    expect(logs).toEqual([
      expect.objectContaining({ level: WARN, msg: CANNOT_READ, err: `reading the tags of ${NOVA}: 404 Not Found`, hint: DEFAULT_HINT }),
      expect.objectContaining({ level: WARN, msg: CANNOT_READ, err: "not a git repository", hint: "the address is not a repository" }),
    ]);
  });
});

describe("processWatchBatch: several upstreams of one system read together", () => {
  it("reads nothing for a system without a batch source, or when none of the upstreams is watched any more", async () => {
    expect(await processWatchBatch({ forge: "gitlab", upstreams: ["gl", "glh"] }, deps, log)).toEqual({});
    expect(await processWatchBatch({ forge: "github", upstreams: ["gone", "hooked"] }, deps, log)).toEqual({});

    expect(batch.asks).toEqual([]);
    expect(gitlab.reads).toEqual([]);
    expect(await redis().keys("*watch*")).toEqual([]);
  });

  it("reads the watched ones in one call, each taken as its own poll: a baseline first, then its ETag asked back and its new tags enqueued", async () => {
    github.set("upco/lib", { "v1.0": A });
    github.set("upco/lib2", { "v2.0": B });

    expect(await processWatchBatch({ forge: "github", upstreams: ["lib", "gone", "hooked", "lib2"] }, deps, log)).toEqual({ lib: "baseline", lib2: "baseline" });
    github.set("upco/lib", { "v1.0": A, "v1.1": C });
    expect(await processWatchBatch({ forge: "github", upstreams: ["lib", "lib2"] }, deps, log)).toEqual({ lib: "read", lib2: "not_modified" });

    expect(batch.asks).toEqual([
      [{ repo: "upco/lib", etag: undefined }, { repo: "upco/lib2", etag: undefined }],
      [{ repo: "upco/lib", etag: '"upco/lib@1"' }, { repo: "upco/lib2", etag: '"upco/lib2@1"' }],
    ]);
    expect((await eventJobs()).map((j) => [j.id, j.data.tag])).toEqual([[deliveryJobId("watch", watchTagDeliveryId("lib", "v1.1", C)), "v1.1"]]);
    expect(github.reads).toEqual([]);
  });

  it("one upstream's error, or no answer for it, is its own: recorded and retried as a poll's; the others are read", async () => {
    github.set("upco/lib", { "v1.0": A });
    const t0 = await scheduleIn({}, ALL);
    batch.errors.set("upco/lib2", httpError(404));
    batch.unanswered.add("upco/lib3");

    expect(await processWatchBatch({ forge: "github", upstreams: ["lib", "lib2", "lib3"] }, deps, log)).toEqual({ lib: "baseline", lib2: "error", lib3: "error" });
    const state = new WatchState(redis());
    const schedule = await scheduled();
    expect((await state.state("lib2")).lastError).toBe("reading the tags of upco/lib2: 404 Not Found");
    expect((await state.state("lib3")).lastError).toBe("reading the tags of upco/lib3: network error the batch gave no answer for this repository");
    expect(schedule.get("lib2")).toBe(t0 + FAR);
    expect(schedule.get("lib3")).toBeLessThanOrEqual(Date.now() + WATCH_RETRY_MS);
    expect(lines(CANNOT_READ).map((l) => l.upstream)).toEqual(["lib2", "lib3"]);
  });

  it("a batch that fails whole is every upstream's failure", async () => {
    await scheduleIn({}, ALL);
    batch.failWhole = httpError(502);

    expect(await processWatchBatch({ forge: "github", upstreams: ["lib", "lib2"] }, deps, log)).toEqual({ lib: "error", lib2: "error" });
    const state = new WatchState(redis());
    expect((await state.state("lib")).lastError).toBe("reading the tags of upco/lib: 502 Bad Gateway");
    expect((await state.state("lib2")).lastError).toBe("reading the tags of upco/lib2: 502 Bad Gateway");
    expect((await scheduled()).get("lib2")).toBeLessThanOrEqual(Date.now() + WATCH_RETRY_MS);
  });

  it("reads a repository two map entries share once, and gives each entry its outcome", async () => {
    map = TWIN_MAP;
    github.set("upco/lib", { "v1.0": A });

    expect(await processWatchBatch({ forge: "github", upstreams: ["lib", "twin"] }, deps, log)).toEqual({ lib: "baseline", twin: "baseline" });
    expect(batch.asks).toEqual([[{ repo: "upco/lib", etag: undefined }]]);
  });

  it("a map entry added on a repository another entry already watches takes its baseline at its first batch, whatever the order", async () => {
    map = TWIN_MAP;
    github.set("upco/lib", { "v1.0": A });
    expect(await processWatchBatch({ forge: "github", upstreams: ["lib"] }, deps, log)).toEqual({ lib: "baseline" });

    // lib has an ETag, twin none yet: the shared read must not be answered "unchanged" against lib's
    const outcomes = await processWatchBatch({ forge: "github", upstreams: ["twin", "lib"] }, deps, log);

    expect(outcomes).toEqual({ twin: "baseline", lib: "read" });
    expect((await new WatchState(redis()).state("twin")).baselineAt).toEqual(expect.any(String));
    expect(batch.asks.at(-1)).toEqual([{ repo: "upco/lib", etag: undefined }]);
  });
});
