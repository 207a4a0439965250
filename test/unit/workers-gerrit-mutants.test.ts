/**
 * Gerrit's two worker files in-process against a real Redis: `startGerritStreams`
 * (src/workers/gerrit-streams.ts: which `gerrit stream-events` connections the map asks for, the lease
 * that lets one process per server follow each, and what a streamed tag or patch set becomes) against
 * a real SSH server speaking stream-events (test/fakes/gerrit/fake-gerrit-ssh.ts) and a fake Gerrit's
 * REST API over loopback (tags resolved by the relay's own GerritSource); and `processChange`
 * (src/workers/change.ts: a patch set or a `recheck` → the dependants' triggers and re-runs) with the
 * downstream forge held in memory (test/helpers/memory-forge.ts). Written to kill the mutants of the
 * `workers-gerrit` target (`npm run test:mutation -- workers-gerrit`, TESTING.md), which the
 * end-to-end files reach only through a whole relay, seconds a test.
 *
 * The lease and reconcile rounds run on `setInterval` (10 s): only setInterval/clearInterval are faked
 * (jest's fake timers), so a test moves those rounds on by hand while SSH, HTTP and Redis run on the
 * real clock.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from "@jest/globals";
import type { Logger } from "pino";
import { gerritDriver } from "../../src/forge/gerrit-driver.js";
import { Systems, type SystemDriver } from "../../src/forge/registry.js";
import type { ChangeEvent } from "../../src/events/change-event.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap } from "../../src/map/graph.js";
import { parseMap, parseMapFiles } from "../../src/map/load.js";
import type { TagEvent, TriggerJob } from "../../src/queue/job-data.js";
import { changeDeliveryId, checkKey, deliveryJobId, rerunJobId, triggerJobId, watchTagDeliveryId } from "../../src/queue/job-ids.js";
import { checkName } from "../../src/report/check-text.js";
import type { Visibility } from "../../src/trust/visibility-store.js";
import { WatchState } from "../../src/watch/watch-state.js";
import { processChange } from "../../src/workers/change.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { startGerritStreams, wantedStreams, type GerritStreams } from "../../src/workers/gerrit-streams.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeGerritSsh } from "../fakes/gerrit/fake-gerrit-ssh.js";
import { commentAdded, now, patchsetCreated, refUpdated, ZERO_SHA } from "../fakes/gerrit/events.js";
import { sshKeyPair } from "../helpers/keys.js";
import { MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { waitFor } from "../helpers/wait-for.js";
import { capturedLog, ERROR, INFO, type LogLine, useWorkerQueues, WARN, workerDeps } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

let logs: LogLine[];
let log: Logger;
let map: DependencyMap;
let forge: MemoryForge;

beforeEach(async () => {
  await redis().flushdb();
  ({ log, lines: logs } = capturedLog());
  forge = new MemoryForge();
});

const logged = (msg: string | RegExp) => logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));

/** GitHub (the downstreams' runner, in memory) and Gerrit as the relay wires it (src/relay.ts), reading the map as it is now. */
function systems(env: NodeJS.ProcessEnv): Systems {
  const github: SystemDriver = { source: () => forge, runner: () => forge, reporter: () => forge, pollsRuns: false, signsCheckHooks: true };
  return new Systems({ github, gerrit: gerritDriver(() => map, env) }, () => map);
}

function makeDeps(env: NodeJS.ProcessEnv, visibilityOf: (id: string) => Visibility = () => "public"): WorkerDeps {
  return workerDeps({ redis: redis(), queues: queues(), map: () => map, log, systems: systems(env), visibilityOf });
}

/** The events queue's jobs (nothing consumes them here), oldest first. */
async function eventJobs(): Promise<{ id: string | undefined; name: string; data: unknown }[]> {
  const jobs = await queues().events.getJobs(["waiting", "delayed", "prioritized"]);
  return jobs.sort((a, b) => a.timestamp - b.timestamp).map((j) => ({ id: j.id, name: j.name, data: j.data as unknown }));
}

describe("wantedStreams: one stream per server, account and port, whatever number of projects the map lists there", () => {
  const gerrit = (id: string, url: string, project: string, ssh?: string) =>
    `  - { id: ${id}, foundation: f, gerrit: { url: "${url}", project: ${project}${ssh ? `, ssh: { ${ssh} }` : ""} } }`;

  it("merges projects on the same server (its scheme and host in any case, a trailing slash aside) for one account and port, and keeps apart other accounts, ports and context paths", () => {
    const m = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: gh, foundation: f, github: acme/lib }
${gerrit("nova", "https://review.example.org", "openstack/nova", "user_env: SU, key_env: SK")}
${gerrit("neutron", "HTTPS://Review.Example.org/", "openstack/neutron", "user_env: SU, key_env: SK, port: 29418")}
${gerrit("polled", "https://review.example.org", "openstack/polled")}
${gerrit("other-account", "https://review.example.org", "openstack/glance", "user_env: SU2, key_env: SK2")}
${gerrit("other-port", "https://review.example.org", "openstack/swift", "user_env: SU, key_env: SK, port: 2222, host_key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"")}
${gerrit("onap", "https://gerrit.example.org/r", "so", "user_env: SU3, key_env: SK3")}
`);

    expect(wantedStreams(m)).toEqual([
      // The id is the lease's key in Redis (`{openci}:gerrit-stream:<id>`), shared by every relay process: a stored format.
      { id: "https://review.example.org|SU|29418", url: "https://review.example.org", host: "review.example.org", port: 29418, userEnv: "SU", keyEnv: "SK", hostKey: undefined },
      { id: "https://review.example.org|SU2|29418", url: "https://review.example.org", host: "review.example.org", port: 29418, userEnv: "SU2", keyEnv: "SK2", hostKey: undefined },
      {
        id: "https://review.example.org|SU|2222", url: "https://review.example.org", host: "review.example.org", port: 2222, userEnv: "SU", keyEnv: "SK",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
      },
      { id: "https://gerrit.example.org/r|SU3|29418", url: "https://gerrit.example.org/r", host: "gerrit.example.org", port: 29418, userEnv: "SU3", keyEnv: "SK3", hostKey: undefined },
    ]);
  });

  it("asks for none where no Gerrit entry gives ssh", () => {
    const m = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: gh, foundation: f, github: acme/lib }
${gerrit("polled", "https://review.example.org", "openstack/polled")}
`);
    expect(wantedStreams(m)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// startGerritStreams
// ---------------------------------------------------------------------------------------------------

const account = sshKeyPair();
const ROUND_MS = 10_000; // RECONCILE_MS, and the lease's renewal (a third of its 30 s)

/** Only setInterval/clearInterval are faked: the reconcile and lease rounds move when a test says. */
function fakeIntervals(): void {
  jest.useFakeTimers({
    doNotFake: [
      "Date", "hrtime", "nextTick", "performance", "queueMicrotask", "requestAnimationFrame", "cancelAnimationFrame",
      "requestIdleCallback", "cancelIdleCallback", "setImmediate", "clearImmediate", "setTimeout", "clearTimeout",
    ],
  });
}

/** One reconcile round (and, for a stream followed, one lease renewal). */
async function round(): Promise<void> {
  await jest.advanceTimersByTimeAsync(ROUND_MS);
}

describe("startGerritStreams against an SSH server speaking stream-events", () => {
  let gerrit: FakeGerrit;
  let ssh: FakeGerritSsh;
  let env: NodeJS.ProcessEnv;
  const started: GerritStreams[] = [];

  beforeEach(async () => {
    gerrit = await FakeGerrit.start({ user: "openci", password: "http-pw" });
    gerrit.addProject("openstack/nova");
    ssh = await FakeGerritSsh.start({ user: "openci", publicKey: account.public, gerrit });
    env = { GERRIT_USER: "openci", GERRIT_PASSWORD: "http-pw", GERRIT_SSH_USER: "openci", GERRIT_SSH_KEY: account.private };
    map = streamMap();
  });
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop();
    jest.useRealTimers();
    // An event the worker threw on (gerrit-stream.ts logs it and goes on): never expected here.
    expect(logged("handling a Gerrit event failed")).toEqual([]);
    expect(ssh.problems).toEqual([]);
    expect(gerrit.problems).toEqual([]);
    await ssh.stop();
    await gerrit.stop();
  });

  /**
   * nova on the fake Gerrit, streamed over SSH; `octo` tests its tags, `app` its changes. `changes:
   * false` leaves `app` out; `mirror`: a second entry for the same Gerrit project first (as a map may
   * list one repository under several ids), with an edge of its own; `hostKey` pins a host key.
   */
  function streamMap(o: { changes?: boolean; mirror?: "tags" | "none"; hostKey?: string; ssh?: boolean } = {}): DependencyMap {
    const location = (id: string) => `  - id: ${id}
    foundation: f
    gerrit:
      url: ${gerrit.url}
      project: openstack/nova
      user_env: GERRIT_USER
      password_env: GERRIT_PASSWORD
${o.ssh === false ? "" : `      ssh: { user_env: GERRIT_SSH_USER, key_env: GERRIT_SSH_KEY, port: ${ssh.port}${o.hostKey ? `, host_key: "${o.hostKey}"` : ""} }\n`}`;
    return parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
${o.mirror ? location("mirror") : ""}${location("nova")}  - { id: octo, foundation: f, github: acme/octo, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: nova, on: [tag] }] }
${o.changes === false ? "" : "  - { id: app, foundation: f, github: acme/app, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: nova, on: [change] }] }\n"}${o.mirror === "tags" ? "  - { id: mirror-ci, foundation: f, github: acme/mirror, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: mirror, on: [tag] }] }\n" : ""}`);
  }

  function start(o: { env?: NodeJS.ProcessEnv; log?: Logger } = {}): GerritStreams {
    const s = startGerritStreams(makeDeps(o.env ?? env), o.env ?? env, o.log ?? log);
    started.push(s);
    return s;
  }

  const spec = () => wantedStreams(map)[0]!;
  const leaseKey = () => `{openci}:gerrit-stream:${spec().id}`;
  const following = () => logged("gerrit stream-events: following this server's stream (the poller stays on)");

  /** Starts one process's streams and waits until it follows nova's. */
  async function streaming(): Promise<GerritStreams> {
    fakeIntervals();
    const s = start();
    await waitFor("the stream to be open", () => ssh.streams === 1);
    return s;
  }

  describe("the SSH client library", () => {
    // First in the file: ssh2 is then not loaded yet in this module registry (gerrit-stream.ts keeps it once loaded).
    it("when ssh2 cannot be imported: says so once with the import's own words, takes no lease, and follows the stream once it can be loaded", async () => {
      jest.unstable_mockModule("ssh2", () => {
        throw new Error("Cannot find package 'ssh2' imported from src/forge/gerrit-stream.ts");
      });
      try {
        fakeIntervals();
        start();
        await waitFor("the error", () => logged(/cannot be loaded/).length === 1);
        await round();
        await round();

        const said = logged(/cannot be loaded/);
        expect(said).toEqual([expect.objectContaining({
          level: ERROR, msg: "gerrit stream-events: cannot follow any stream: the SSH client cannot be loaded; the poller still reads the tags",
          err: expect.stringContaining("its client library (ssh2) failed to import: Cannot find package 'ssh2'"),
        })]);
        expect(await redis().exists(leaseKey())).toBe(0);
        expect(ssh.commands).toEqual([]);
        expect(following()).toEqual([]);
      } finally {
        jest.unstable_unmockModule("ssh2");
      }
      await round();
      await waitFor("the stream to be open", () => ssh.streams === 1);
      expect(logged(/cannot be loaded/)).toHaveLength(1);
    });
  });

  describe("the lease: one process per server follows its stream", () => {
    it("follows the stream under a 30 s lease in Redis naming this process, and says so", async () => {
      await streaming();

      expect(ssh.commands).toEqual([{ user: "openci", command: expect.stringContaining("gerrit stream-events") }]);
      expect(await redis().get(leaseKey())).toMatch(new RegExp(`^${process.pid}-[0-9a-z]+$`));
      const ttl = await redis().pttl(leaseKey());
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      expect(following()).toEqual([expect.objectContaining({ level: INFO, gerrit: gerrit.url })]);
    });

    it("renews its lease every 10 s and keeps following; a later round starts nothing more", async () => {
      await streaming();
      await redis().pexpire(leaseKey(), 5_000);

      await round();
      await waitFor("the lease renewed", async () => (await redis().pttl(leaseKey())) > 20_000);
      await redis().pexpire(leaseKey(), 5_000);
      await round();
      await waitFor("the lease renewed again", async () => (await redis().pttl(leaseKey())) > 20_000);

      expect(ssh.streams).toBe(1);
      expect(ssh.commands).toHaveLength(1);
      expect(following()).toHaveLength(1);
      expect(logged(/lease lost/)).toEqual([]);
    });

    it("a lease gone from Redis (flushed, restarted): the stream stops at the next renewal and is taken again at the round after, never twice at once", async () => {
      await streaming();
      await redis().del(leaseKey());

      await round();
      await waitFor("the connection closed", () => logged(/lease lost/).length === 1 && ssh.open === 0);
      await round();
      await waitFor("the stream followed again", () => ssh.commands.length === 2);

      expect(ssh.open).toBe(1);
      expect(following()).toHaveLength(2);
      expect(await redis().get(leaseKey())).toMatch(new RegExp(`^${process.pid}-`));
    });

    it("a second process does not connect while the first holds the lease, and takes the stream over at its next round once the first stops", async () => {
      fakeIntervals();
      const procs = { A: start({ log: log.child({ proc: "A" }) }), B: start({ log: log.child({ proc: "B" }) }) };
      await waitFor("one stream", () => ssh.streams === 1);
      const holder = await redis().get(leaseKey());
      await round();

      expect(ssh.commands).toHaveLength(1);
      expect(following()).toHaveLength(1);

      // Whichever took it: stopped, it gives the lease back at once, and the other takes the stream at its next round.
      const first = following()[0]!.proc as "A" | "B";
      const second = first === "A" ? "B" : "A";
      await procs[first].stop();
      expect(await redis().exists(leaseKey())).toBe(0);
      await round();
      await waitFor("the stream followed again", () => ssh.commands.length === 2);
      expect(following().map((l) => l.proc)).toEqual([first, second]);
      expect(await redis().get(leaseKey())).not.toBe(holder);
      await procs[second].stop();
      expect(await redis().exists(leaseKey())).toBe(0);
      await waitFor("the connection closed", () => ssh.open === 0);
    });

    it("never connects while another process holds the lease", async () => {
      await redis().set(leaseKey(), "4242-elsewhere", "PX", 30_000);
      fakeIntervals();
      const s = start();
      await round();
      await s.stop(); // waits for the round in flight

      expect(ssh.commands).toEqual([]);
      expect(following()).toEqual([]);
      expect(await redis().get(leaseKey())).toBe("4242-elsewhere");
    });

    it("stops following when its lease has passed to another process, says so, and leaves that process's lease alone", async () => {
      const s = await streaming();
      await redis().set(leaseKey(), "4242-elsewhere", "PX", 30_000);

      await round();
      await waitFor("the connection closed", () => ssh.open === 0);

      expect(logged(/lease lost/)).toEqual([expect.objectContaining({
        level: INFO, gerrit: gerrit.url, msg: "gerrit stream-events: lease lost to another process; this one stops following the stream",
      })]);
      await s.stop();
      expect(await redis().get(leaseKey())).toBe("4242-elsewhere");
    });

    it("stopped while a renewal that finds the lease lost is on its way: the stream ends once, without an error, and the other process's lease stays", async () => {
      const s = await streaming();
      await redis().set(leaseKey(), "4242-elsewhere", "PX", 30_000);

      // Redis holds writes back for 300 ms (scripts included): the renewal's answer comes after stop() has ended the stream.
      await redis().call("CLIENT", "PAUSE", "300", "WRITE");
      await round();
      await s.stop();
      await waitFor("the renewal's answer", () => logged(/lease lost/).length === 1);
      await waitFor("the connection closed", () => ssh.open === 0);

      expect(await redis().get(leaseKey())).toBe("4242-elsewhere");
      expect(logs.filter((l) => l.level >= ERROR)).toEqual([]);
    });

    it("a lease that cannot be renewed (Redis refuses) is said, and the stream goes on", async () => {
      await streaming();
      // The lease's key holds another type: GET fails inside the renewal script.
      await redis().del(leaseKey());
      await redis().hset(leaseKey(), "owner", "someone");

      await round();
      await waitFor("the warning", () => logged(/cannot renew/).length === 1);

      expect(logged(/cannot renew/)).toEqual([expect.objectContaining({ level: WARN, msg: "gerrit stream-events: cannot renew the lease (Redis?)", err: expect.stringContaining("WRONGTYPE") })]);
      expect(ssh.streams).toBe(1);
      expect(logged(/lease lost/)).toEqual([]);
      await redis().del(leaseKey());
    });

    it("a round that Redis refuses is said, and the next round starts the stream", async () => {
      await redis().config("SET", "maxmemory", "1");
      try {
        fakeIntervals();
        start();
        await waitFor("the warning", () => logged(/cannot reconcile/).length === 1);
        expect(logged(/cannot reconcile/)).toEqual([expect.objectContaining({ level: WARN, msg: "gerrit stream-events: cannot reconcile the streams (Redis?)", err: expect.stringContaining("OOM") })]);
        expect(ssh.commands).toEqual([]);
      } finally {
        await redis().config("SET", "maxmemory", "0");
      }
      await round();
      await waitFor("the stream to be open", () => ssh.streams === 1);
    });

    it("stop: ends the stream and gives the lease back; a round in flight starts no other stream after stop", async () => {
      // Two streams wanted (two accounts): stop() comes while the first round is still on the first.
      const second = sshKeyPair();
      const ssh2 = await FakeGerritSsh.start({ user: "openci2", publicKey: second.public, gerrit });
      try {
        map = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: nova, foundation: f, gerrit: { url: "${gerrit.url}", project: openstack/nova, ssh: { user_env: GERRIT_SSH_USER, key_env: GERRIT_SSH_KEY, port: ${ssh.port} } } }
  - { id: glance, foundation: f, gerrit: { url: "${gerrit.url}", project: openstack/glance, ssh: { user_env: SSH_USER2, key_env: SSH_KEY2, port: ${ssh2.port} } } }
`);
        fakeIntervals();
        const s = startGerritStreams(makeDeps(env), { ...env, SSH_USER2: "openci2", SSH_KEY2: second.private }, log);
        await s.stop();

        expect(following().length).toBeLessThanOrEqual(1);
        expect(ssh2.commands).toEqual([]);
        expect(await redis().keys("{openci}:gerrit-stream:*")).toEqual([]);
        await waitFor("every connection closed", () => ssh.open === 0 && ssh2.open === 0);
      } finally {
        await ssh2.stop();
      }
    });
  });

  describe("the map decides which streams run", () => {
    it("without the map's SSH variables: warns once per stream naming what is missing, takes no lease, and follows once they are set", async () => {
      const bare: NodeJS.ProcessEnv = { GERRIT_USER: "openci", GERRIT_PASSWORD: "http-pw" };
      fakeIntervals();
      start({ env: bare });
      await round();
      await round();

      expect(logged(/ssh variables are not set/)).toEqual([expect.objectContaining({
        level: WARN, gerrit: gerrit.url, missing: ["GERRIT_SSH_USER", "GERRIT_SSH_KEY"],
        msg: "gerrit stream-events: the map's ssh variables are not set; this server's tags are only polled. Set them to follow its stream",
      })]);
      expect(await redis().exists(leaseKey())).toBe(0);
      expect(ssh.commands).toEqual([]);

      bare.GERRIT_SSH_USER = "openci";
      await round();
      expect(await redis().exists(leaseKey())).toBe(0);
      bare.GERRIT_SSH_KEY = account.private;
      await round();
      await waitFor("the stream to be open", () => ssh.streams === 1);
      expect(logged(/ssh variables are not set/)).toHaveLength(1);
      expect(logged(/cannot reconcile/)).toEqual([]);
    });

    it.each([
      ["the user", { GERRIT_SSH_KEY: account.private }, ["GERRIT_SSH_USER"]],
      ["the key", { GERRIT_SSH_USER: "openci" }, ["GERRIT_SSH_KEY"]],
    ])("names only what is missing: %s", async (_what, ssh_, missing) => {
      fakeIntervals();
      start({ env: { GERRIT_USER: "openci", GERRIT_PASSWORD: "http-pw", ...ssh_ } });
      await round();
      expect(logged(/ssh variables are not set/)).toEqual([expect.objectContaining({ missing })]);
      expect(await redis().exists(leaseKey())).toBe(0);
    });

    it("keeps a stream the map still asks for (renewing its lease), and ends one it no longer asks for", async () => {
      await streaming();
      await redis().pexpire(leaseKey(), 5_000);
      await round();
      await waitFor("the lease renewed", async () => (await redis().pttl(leaseKey())) > 20_000);
      expect(ssh.streams).toBe(1);
      expect(ssh.commands).toHaveLength(1);

      map = streamMap({ ssh: false, changes: false });
      await round();
      await waitFor("the connection closed", () => ssh.open === 0);
    });

    it("pins the host key the map gives: a server showing another key is refused and never streamed", async () => {
      map = streamMap({ hostKey: sshKeyPair().public.trim() });
      fakeIntervals();
      start();
      await waitFor("the refusal", () => logged(/is not the one the map pins/).length === 1);

      expect(logged(/is not the one the map pins/)[0]!.level).toBe(ERROR);
      expect(ssh.auth).toEqual([]);
      expect(ssh.commands).toEqual([]);
    });
  });

  describe("a streamed tag", () => {
    it("is resolved to its commit through the REST API, enqueued as the poller would enqueue it, and remembered in the watch state", async () => {
      await streaming();

      const tag = gerrit.addTag("openstack/nova", "v30.0.0", { annotated: true });
      const [job] = await waitFor("the tag enqueued", async () => ((await eventJobs()).length > 0 ? eventJobs() : undefined));

      const deliveryId = watchTagDeliveryId("nova", "v30.0.0", tag.commit);
      const expected: TagEvent = {
        forge: "gerrit", host: gerrit.url, repo: "openstack/nova", tag: "v30.0.0", sha: tag.commit, source: "stream", deliveryId, receivedAt: expect.any(String) as unknown as string,
      };
      // The poller's job id for the same tag and commit (src/workers/watch.ts): a tag both streamed and polled is one event.
      expect(job).toEqual({ id: deliveryJobId("watch", deliveryId), name: "tag", data: expected });
      expect(Date.parse((job!.data as TagEvent).receivedAt!)).not.toBeNaN();
      expect(gerrit.calls("GET", /\/tags\/v30\.0\.0$/)).toHaveLength(1);
      await waitFor("the watch state", async () => (await new WatchState(redis()).tags("nova")).get("v30.0.0") === tag.commit);
      expect((await new WatchState(redis()).state("nova")).lastNewTag).toBe("v30.0.0");
      await waitFor("the log line", () => logged("gerrit stream-events: new tag enqueued").length === 1);
      expect(logged("gerrit stream-events: new tag enqueued")).toEqual([expect.objectContaining({ level: INFO, upstream: "nova", tag: "v30.0.0", sha: tag.commit })]);
    });

    it("is enqueued for each map entry of the project; one the poller already has at that commit is not, and a moved one is", async () => {
      map = streamMap({ mirror: "tags" });
      const state = new WatchState(redis());
      const old = gerrit.addTag("openstack/nova", "v1.0.0");
      await state.update("nova", { changed: [{ name: "v1.0.0", sha: old.commit }], deleted: [], etag: undefined });
      await state.update("mirror", { changed: [{ name: "v1.0.0", sha: old.commit }], deleted: [], etag: undefined });
      await streaming();

      ssh.emit(refUpdated("openstack/nova", "refs/tags/v1.0.0", ZERO_SHA, old.commit, gerrit.account)); // already polled
      await waitFor("it resolved for both entries", () => gerrit.calls("GET", /\/tags\/v1\.0\.0$/).length === 2);
      const moved = gerrit.moveTag("openstack/nova", "v1.0.0", "c".repeat(40));
      const jobs = await waitFor("the moved tag enqueued twice", async () => ((await eventJobs()).length >= 2 ? eventJobs() : undefined));
      await waitFor("both resolved", () => gerrit.calls("GET", /\/tags\/v1\.0\.0$/).length === 4);

      expect(jobs.map((j) => (j.data as TagEvent).deliveryId).sort()).toEqual([
        watchTagDeliveryId("mirror", "v1.0.0", moved.commit), watchTagDeliveryId("nova", "v1.0.0", moved.commit),
      ]);
      expect((await eventJobs())).toHaveLength(2);
      await waitFor("both logged", () => logged("gerrit stream-events: new tag enqueued").length === 2);
    });

    it("a tag for a project the map does not list is left alone (the stream carries every project the account sees)", async () => {
      gerrit.addProject("openstack/other");
      await streaming();

      gerrit.addTag("openstack/other", "v1.0.0");
      const tag = gerrit.addTag("openstack/nova", "v2.0.0");
      await waitFor("nova's tag enqueued", async () => (await eventJobs()).length === 1);

      expect((await eventJobs()).map((j) => (j.data as TagEvent).sha)).toEqual([tag.commit]);
      expect(gerrit.calls("GET", /openstack%2Fother/)).toEqual([]);
    });

    it("one gone before it is read is not enqueued: a warning with Gerrit's answer and the hint, the poller finds the rest", async () => {
      await streaming();

      ssh.emit(refUpdated("openstack/nova", "refs/tags/v9.9.9", ZERO_SHA, "d".repeat(40), gerrit.account));
      await waitFor("the warning", () => logged(/cannot resolve the streamed tag/).length === 1);

      expect(logged(/cannot resolve the streamed tag/)).toEqual([expect.objectContaining({
        level: WARN, msg: "gerrit stream-events: cannot resolve the streamed tag; the poller will find it", upstream: "nova", tag: "v9.9.9",
        err: expect.stringContaining("404"), hint: expect.stringContaining("no tag v9.9.9 in openstack/nova"),
      })]);
      expect(await eventJobs()).toEqual([]);
      expect((await new WatchState(redis()).tags("nova")).size).toBe(0);
    });

    it("a Redis failure while it is relayed is a warning saying which tag of which project, and nothing is remembered", async () => {
      await streaming();
      await redis().set("{openci}:watch-tags:nova", "not a hash");

      const tag = gerrit.addTag("openstack/nova", "v3.0.0");
      await waitFor("the warning", () => logged(/cannot resolve the streamed tag/).length === 1);

      const [warning] = logged(/cannot resolve the streamed tag/);
      expect(warning).toMatchObject({ level: WARN, upstream: "nova", tag: "v3.0.0" });
      expect(warning!.err).toMatch(/^resolving v3\.0\.0 of openstack\/nova: .*WRONGTYPE/);
      expect(await eventJobs()).toEqual([]);
      expect(tag.commit).toMatch(/^[0-9a-f]{40}$/);
    });
  });

  describe("a streamed patch set or recheck", () => {
    it("a new patch set becomes one change job, whatever number of times it is streamed", async () => {
      await streaming();

      const change = gerrit.addChange("openstack/nova");
      const ps = change.patchSets[0]!;
      const [job] = await waitFor("the change enqueued", async () => ((await eventJobs()).length > 0 ? eventJobs() : undefined));

      const deliveryId = changeDeliveryId({ server: gerrit.url, change: change.number, patchSet: 1 });
      const expected: ChangeEvent = {
        forge: "gerrit", host: gerrit.url, repo: "openstack/nova", change: change.number, patchSet: 1, ref: ps.ref, revision: ps.revision,
        recheck: false, deliveryId, receivedAt: expect.any(String) as unknown as string,
      };
      expect(job).toEqual({ id: deliveryJobId("gerrit", deliveryId), name: "change", data: expected });
      await waitFor("the log line", () => logged("gerrit stream-events: change enqueued").length === 1);
      expect(logged("gerrit stream-events: change enqueued")).toEqual([expect.objectContaining({ level: INFO, upstream: "nova", change: change.number, patchSet: 1, recheck: false })]);

      // The same patch set again (a reconnect, another account's stream): the same job.
      ssh.emit(patchsetCreated(streamedChange(change), streamedPatchSet(ps)));
      await waitFor("the repeat handled", () => logged("gerrit stream-events: change enqueued").length === 2);
      expect(await eventJobs()).toHaveLength(1);
    });

    it("a recheck is its own job per author and time, a repeat of the same one is not, and other comments are nothing", async () => {
      await streaming();
      const change = gerrit.addChange("openstack/nova");
      await waitFor("the patch set enqueued", async () => (await eventJobs()).length === 1);
      const ps = change.patchSets[0]!;

      const recheck = (who: string, at: number) => ({ ...commentAdded(streamedChange(change), streamedPatchSet(ps), { username: who }, "Patch Set 1:\n\nrecheck"), eventCreatedOn: at });
      const t = now();
      ssh.emit(recheck("alice", t));
      ssh.emit(recheck("alice", t));
      ssh.emit(recheck("bob", t));
      ssh.emit(recheck("alice", t + 1));
      gerrit.comment(change.number, "Looks good");
      await waitFor("four rechecks handled", () => logged("gerrit stream-events: change enqueued").length === 5);

      const jobs = await eventJobs();
      expect(jobs.map((j) => (j.data as ChangeEvent).recheck)).toEqual([false, true, true, true]);
      expect(jobs.slice(1).map((j) => (j.data as ChangeEvent).deliveryId)).toEqual([
        changeDeliveryId({ server: gerrit.url, change: change.number, patchSet: 1, recheck: { author: "alice", createdOn: t } }),
        changeDeliveryId({ server: gerrit.url, change: change.number, patchSet: 1, recheck: { author: "bob", createdOn: t } }),
        changeDeliveryId({ server: gerrit.url, change: change.number, patchSet: 1, recheck: { author: "alice", createdOn: t + 1 } }),
      ]);
      expect(jobs[1]!.data).toMatchObject({ change: change.number, patchSet: 1, ref: ps.ref, revision: ps.revision });
      expect(logged("gerrit stream-events: change enqueued")[1]).toMatchObject({ recheck: true });
    });

    it("goes to the map entry whose edges test changes; none is enqueued where no edge tests them", async () => {
      map = streamMap({ mirror: "none" });
      await streaming();
      gerrit.addChange("openstack/nova");
      await waitFor("the change enqueued", () => logged("gerrit stream-events: change enqueued").length === 1);
      expect(logged("gerrit stream-events: change enqueued")[0]).toMatchObject({ upstream: "nova" });

      map = streamMap({ changes: false });
      gerrit.addChange("openstack/nova");
      gerrit.addTag("openstack/nova", "v5.0.0"); // after the change: the stream keeps the order
      await waitFor("the tag enqueued", async () => (await eventJobs()).length === 2);

      expect((await eventJobs()).map((j) => j.name)).toEqual(["change", "tag"]);
    });

    it("one that cannot be enqueued (Redis refuses) is a warning naming the change", async () => {
      await streaming();
      // The events queue's meta hash holds another type: BullMQ's add script fails on it.
      await redis().set("{openci}:events:meta", "not a hash");

      const change = gerrit.addChange("openstack/nova");
      await waitFor("the warning", () => logged(/cannot enqueue the change/).length === 1);

      expect(logged(/cannot enqueue the change/)).toEqual([expect.objectContaining({
        level: WARN, msg: "gerrit stream-events: cannot enqueue the change (Redis?)", upstream: "nova", change: change.number, err: expect.stringContaining("WRONGTYPE"),
      })]);
      expect(logged("gerrit stream-events: change enqueued")).toEqual([]);
      await redis().del("{openci}:events:meta");
    });
  });

  /** The change and patch set attributes as the fake Gerrit streams them (test/fakes/gerrit/events.ts). */
  function streamedChange(c: ReturnType<FakeGerrit["addChange"]>) {
    return {
      project: c.project, branch: c.branch, id: c.changeId, number: c.number, subject: c.subject, owner: c.owner,
      url: `${gerrit.url}/c/${c.project}/+/${c.number}`, commitMessage: c.subject, createdOn: c.created, status: c.status,
    };
  }
  function streamedPatchSet(ps: ReturnType<FakeGerrit["addChange"]>["patchSets"][number]) {
    return {
      number: ps.number, revision: ps.revision, parents: [], ref: ps.ref, uploader: ps.uploader, author: ps.uploader,
      createdOn: ps.created, kind: ps.kind, sizeInsertions: 1, sizeDeletions: 0,
    };
  }
});

// ---------------------------------------------------------------------------------------------------
// processChange
// ---------------------------------------------------------------------------------------------------

describe("processChange: a patch set or a recheck → the dependants that test the upstream's changes", () => {
  const URL_ = "https://review.example.org/r";
  const REV = "1".repeat(40);
  const REF = "refs/changes/45/12345/2";
  const NOVA = `{ url: "${URL_}", project: openstack/nova, user_env: GU, password_env: GP, ssh: { user_env: SU, key_env: SK } }`;
  const CI = "trigger: { workflow: ci.yml, ref: main }";
  /**
   * nova's changes are tested by `app` and `docs` (GitHub) and `lab` (GitLab: no runner is wired
   * here, so it is left out); `octo` tests its tags only. `late` is `app` plus a dependant added after
   * the patch set was first seen; `twin` lists the same Gerrit project under a second id, with its own.
   */
  const text = (extra = "") => `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: nova, foundation: f, gerrit: ${NOVA} }
  - { id: app, foundation: f, github: acme/app, ${CI}, depends_on: [{ project: nova, on: [change] }] }
  - { id: lab, foundation: f, gitlab: grp/lab, trigger: { ref: main }, depends_on: [{ project: nova, on: [change] }] }
  - { id: octo, foundation: f, github: acme/octo, ${CI}, depends_on: [{ project: nova, on: [tag] }] }
  - { id: docs, foundation: f, github: acme/docs, ${CI}, depends_on: [{ project: nova, on: [tag, change] }] }
${extra}`;
  const MAP = parseMap(text());
  const LATE = parseMap(text(`  - { id: late, foundation: f, github: acme/late, ${CI}, depends_on: [{ project: nova, on: [change] }] }\n`));
  const TWIN = parseMap(text(`  - { id: twin, foundation: f, gerrit: ${NOVA} }\n  - { id: twin-ci, foundation: f, github: acme/twin, ${CI}, depends_on: [{ project: twin, on: [change] }] }\n`));
  const TAGS_ONLY = parseMap(`
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: nova, foundation: f, gerrit: ${NOVA} }
  - { id: octo, foundation: f, github: acme/octo, ${CI}, depends_on: [{ project: nova, on: [tag] }] }
  - { id: lab, foundation: f, gitlab: grp/lab, trigger: { ref: main }, depends_on: [{ project: nova, on: [change] }] }
`);

  let deps: WorkerDeps;
  beforeEach(() => {
    map = MAP;
    deps = makeDeps({});
  });

  const event = (o: Partial<ChangeEvent> = {}): ChangeEvent => ({
    forge: "gerrit", host: URL_, repo: "openstack/nova", change: 12345, patchSet: 2, ref: REF, revision: REV, recheck: false,
    deliveryId: "change-d1", receivedAt: "2030-01-01T00:00:00.000Z", ...o,
  });
  const change = (o: Partial<ChangeEvent> = {}) => processChange(event(o), deps, log);

  const place = { forge: "gerrit" as const, host: URL_, repo: "openstack/nova" };
  const checkOf = async (downstream: string) => deps.checks.get(checkKey({ upstream: place, sha: REV, name: checkName(downstream) }));
  const runIdOf = (downstream: string, upstream = "nova") => triggerJobId({ upstreamId: upstream, tag: REF, sha: REV, downstreamId: downstream });
  async function triggerJobs(): Promise<TriggerJob[]> {
    return (await queues().trigger.getJobs(["waiting", "delayed", "prioritized"])).filter((j) => j.name === "trigger").map((j) => j.data as TriggerJob)
      .sort((a, b) => a.downstreamId.localeCompare(b.downstreamId) || a.attempt - b.attempt);
  }
  async function history(kind: HistoryRecord["kind"]): Promise<HistoryRecord[]> {
    const store = new HistoryStore(redis());
    return (await store.records(await store.recent(kind, 100))).map((r) => r.record).reverse();
  }
  /** A downstream's run ended: its check completed (what the run-result worker writes). */
  async function finished(downstream: string): Promise<void> {
    const stored = (await checkOf(downstream))!;
    await deps.checks.advance(checkKey({ upstream: place, sha: REV, name: checkName(downstream) }), stored.target, { ...stored.report, status: "completed", conclusion: "failure" });
  }
  const said = () => logged("gerrit change: downstreams triggered");

  it("a new patch set triggers each dependant that tests changes and can run, on the patch set's ref and commit, and records the patch set", async () => {
    const result = await change();

    expect(result).toEqual({ triggered: ["app", "docs"], rerun: [] });
    const jobs = await triggerJobs();
    expect(jobs.map((j) => [j.downstreamId, j.runId])).toEqual([["app", runIdOf("app")], ["docs", runIdOf("docs")]]);
    expect(jobs[0]).toMatchObject({
      upstream: { projectId: "nova", forge: "gerrit", host: URL_, repo: "openstack/nova", tag: REF, sha: REV },
      deliveryId: "change-d1", receivedAt: "2030-01-01T00:00:00.000Z", attempt: 0,
    });
    expect((await checkOf("app"))?.report).toMatchObject({ status: "queued", externalId: runIdOf("app") });
    expect(await checkOf("lab")).toBeUndefined();
    expect(forge.calls).toEqual([]);

    const releases = await history("release");
    expect(releases).toEqual([expect.objectContaining({ project: "nova", forge: "gerrit", host: URL_, repo: "openstack/nova", tag: REF, sha: REV, source: "change", artifacts: [] })]);
    expect(said()).toEqual([expect.objectContaining({ level: INFO, repo: "openstack/nova", change: 12345, patchSet: 2, recheck: false, triggered: ["app", "docs"], rerun: [] })]);
    // No re-run is asked for a new patch set (rerun.ts would say "re-run requested", and warn of a run id it cannot find).
    expect(logged("re-run requested")).toEqual([]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });

  it("the same patch set again triggers nothing twice and re-runs nothing, even where its runs have ended", async () => {
    await change();
    await finished("app");

    const again = await change({ deliveryId: "change-d2" });

    expect(again.rerun).toEqual([]);
    expect((await triggerJobs()).map((j) => [j.downstreamId, j.attempt])).toEqual([["app", 0], ["docs", 0]]);
    expect((await checkOf("app"))?.report.status).toBe("completed");
  });

  it("a recheck re-runs the ended downstreams, leaves the running ones, and triggers those not triggered yet on the patch set", async () => {
    await change();
    await finished("app");
    map = LATE;

    const result = await change({ recheck: true, deliveryId: "change-d1-recheck" });

    expect(result).toEqual({ triggered: ["late"], rerun: ["app"] });
    const jobs = await triggerJobs();
    expect(jobs.map((j) => [j.downstreamId, j.attempt])).toEqual([["app", 0], ["app", 1], ["docs", 0], ["late", 0]]);
    expect(jobs[1]).toMatchObject({ runId: rerunJobId(runIdOf("app"), "change-d1-recheck"), rerunOf: runIdOf("app"), deliveryId: "change-d1-recheck", upstream: { tag: REF, sha: REV } });
    expect((await checkOf("app"))?.report).toMatchObject({ status: "queued", externalId: rerunJobId(runIdOf("app"), "change-d1-recheck") });
    expect(logged("recheck: this downstream is still running on the patch set; left to finish")).toEqual([
      expect.objectContaining({ level: INFO, change: 12345, patchSet: 2, downstream: "docs" }),
    ]);
    expect(said().at(-1)).toMatchObject({ recheck: true, triggered: ["late"], rerun: ["app"] });
    expect(logged("re-run requested")).toEqual([expect.objectContaining({ downstreams: ["app"] })]);
  });

  it("a recheck of a patch set never triggered (the stream was down) triggers every dependant", async () => {
    const result = await change({ recheck: true });

    expect(result).toEqual({ triggered: ["app", "docs"], rerun: [] });
    expect((await history("release")).map((r) => r.kind === "release" && r.source)).toEqual(["change"]);
  });

  it("two map entries for the project: each one's dependants, each patch set recorded for each entry", async () => {
    map = TWIN;

    const result = await change();

    expect(result.triggered.sort()).toEqual(["app", "docs", "twin-ci"]);
    expect((await triggerJobs()).find((j) => j.downstreamId === "twin-ci")).toMatchObject({ runId: runIdOf("twin-ci", "twin"), upstream: { projectId: "twin" } });
    expect((await history("release")).map((r) => r.kind === "release" && r.project).sort()).toEqual(["nova", "twin"]);
  });

  it("a declared dependant of a private upstream is not triggered", async () => {
    map = parseMapFiles([{ file: "m.yml", text: text() }], "m.yml", {}, [
      { file: "github:dec/app/.github/openci.yml", text: "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: nova, on: [change] }]\n", location: { forge: "github", repo: "dec/app" } },
    ]).map;
    expect(map.changeDependants("nova").map((d) => d.project.id)).toContain("github:dec/app");
    deps = makeDeps({}, (id) => (id === "nova" ? "private" : "public"));

    const result = await change();

    expect(result).toEqual({ triggered: ["app", "docs"], rerun: [] });
  });

  it("a change no edge tests, or only where nothing can run its pipelines: nothing, and nothing said", async () => {
    map = TAGS_ONLY;

    expect(await change()).toEqual({ triggered: [], rerun: [] });
    expect(await change({ recheck: true })).toEqual({ triggered: [], rerun: [] });
    expect(await triggerJobs()).toEqual([]);
    expect(await history("release")).toEqual([]);
    expect(said()).toEqual([]);
  });
});
