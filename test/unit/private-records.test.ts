import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { Job, Queue } from "bullmq";
import { pino } from "pino";
import { HistoryReader } from "../../src/history/history-reader.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { Recorder } from "../../src/history/recorder.js";
import type { Project, DependencyMap } from "../../src/map/graph.js";
import type { SinkJob, TriggerJob } from "../../src/queue/job-data.js";
import { processDelivery } from "../../src/sinks/deliver.js";
import { SinkStats } from "../../src/sinks/sink-stats.js";
import { Sinks } from "../../src/sinks/sinks.js";
import { ALL_PUBLIC, type Privacy } from "../../src/trust/privacy.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { startSinkServer } from "../helpers/sink-server.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const SECRET = "0123456789abcdef";
const redis = useTestRedisClient();
const log = pino({ level: "silent" });
let sinkServer: Awaited<ReturnType<typeof startSinkServer>>;
beforeAll(async () => {
  sinkServer = await startSinkServer();
});
afterAll(async () => {
  await sinkServer.stop();
});
beforeEach(async () => {
  await redis().flushdb();
  sinkServer.deliveries.length = 0;
});

/** A recorder whose privacy is a set of private project ids (changed by the test as it goes), and what it queued for subscribers. */
function recorder(privateIds: string[]) {
  const secret = new Set(privateIds);
  const privacy: Privacy = { anyPrivate: async (ids) => ids.some((id) => secret.has(id)) };
  const queued: { name: string; data: SinkJob }[] = [];
  const queue = { addBulk: async (jobs: { name: string; data: SinkJob }[]) => (queued.push(...jobs), []) } as unknown as Pick<Queue<SinkJob>, "addBulk">;
  const sinks = new Sinks([
    { id: "public-ops", url: sinkServer.url, secret: SECRET },
    { id: "private-ops", url: sinkServer.url, secret: SECRET, private: true },
  ], () => ({ subscribers: () => [] }) as unknown as DependencyMap, {});
  const store = new HistoryStore(redis());
  return { recorder: new Recorder({ store, privacy, sinks, queue, sinkRetryMs: 10, log }), store, sinks, secret, queued };
}

const upstream = { id: "nova" } as Project;
const job = (downstreamId: string, extra: Partial<TriggerJob> = {}): TriggerJob => ({
  runId: `run-${downstreamId}`, downstreamId, checkName: `openci: ${downstreamId}`, deliveryId: "d1", enqueuedAt: "2026-12-01T10:00:00.000Z", attempt: 0,
  upstream: { projectId: "nova", forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA }, ...extra,
});
const done = { forge: "github", repo: "acme/secret", runId: "7", state: "completed", conclusion: "failure", url: "https://github.com/acme/secret/actions/runs/7", source: "workflow_run" } as const;

describe("the recorder with private projects", () => {
  it("keeps every record of a private downstream's run in the private scope, linked to the public release", async () => {
    const { recorder: r, store } = recorder(["secret"]);

    const release = await r.release({ upstream, forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA, source: "push" });
    const trigger = await r.trigger(job("secret"), "triggered");
    const run = await r.run(job("secret"), done, ["unit tests"], [{ name: "logs", url: "https://github.com/acme/secret/artifacts/1" }]);
    const closed = store.inScope("private");

    expect(await store.get(release.toString())).toMatchObject({ kind: "release" });
    expect(await store.get(trigger.toString())).toBeUndefined();
    expect(await store.get(run.toString())).toBeUndefined();
    expect(await store.ofRelease("nova", "v1")).toEqual([release.toString()]);
    expect(await closed.get(trigger.toString())).toMatchObject({ downstream: "secret", release });
    expect(await closed.get(run.toString())).toMatchObject({ trigger, release, failedJobs: ["unit tests"] });
    expect((await closed.ofRelease("nova", "v1")).length).toBe(4);
  });

  it("never links a public record to a private one: no `after` to a private run, no `release` to a private release", async () => {
    const { recorder: r, store, secret } = recorder(["nova", "secret"]);
    const privateRelease = await r.release({ upstream, forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA, source: "push" });
    const privateDone = await r.run(job("secret"), done);
    secret.clear(); // both public from now on: what follows is public; what was private stays private

    const cascade = await r.trigger(job("kolla", { chain: { id: "run-secret", path: ["nova", "secret", "kolla"], from: "run-secret" } }), "triggered");
    const record = await store.get(cascade.toString());

    expect(record).toMatchObject({ kind: "trigger", downstream: "kolla", chain: { path: ["nova", "secret", "kolla"] } });
    expect(record).not.toHaveProperty("after");
    expect(record).not.toHaveProperty("release");
    expect(await store.inScope("private").get(privateDone.toString())).toMatchObject({ state: "completed", release: privateRelease });
  });

  it("treats a cascade through a private project as private, and lets it link to the private run before it", async () => {
    const { recorder: r, store } = recorder(["secret"]);
    const privateDone = await r.run(job("secret"), done);

    const cascade = await r.trigger(job("kolla", { chain: { id: "run-secret", path: ["nova", "secret", "kolla"], from: "run-secret" } }), "triggered");

    expect(await store.get(cascade.toString())).toBeUndefined();
    expect(await store.inScope("private").get(cascade.toString())).toMatchObject({ downstream: "kolla", after: privateDone });
  });

  it("queues a private record only for subscribers that say private: true, and says it is private", async () => {
    const { recorder: r, queued } = recorder(["secret"]);

    const open = await r.trigger(job("kolla"), "triggered");
    const closed = await r.trigger(job("secret"), "triggered");

    expect(queued.filter((j) => j.data.cid === open.toString()).map((j) => j.data)).toEqual([
      { sinkId: "public-ops", cid: open.toString() }, { sinkId: "private-ops", cid: open.toString() },
    ]);
    expect(queued.filter((j) => j.data.cid === closed.toString()).map((j) => j.data)).toEqual([{ sinkId: "private-ops", cid: closed.toString(), scope: "private" }]);
  });
});

describe("delivering a private record", () => {
  const deliver = (data: SinkJob, sinks: Sinks) => processDelivery(
    { id: "job-1", data, attemptsMade: 0, opts: { attempts: 1 } } as unknown as Job,
    { history: new HistoryStore(redis()), sinks, stats: new SinkStats(redis()), eventSource: "/openci-relay", readers: HistoryReader.pair(new HistoryStore(redis()), ALL_PUBLIC) }, log,
  );

  it("reaches a private: true subscriber, and never a public-only one, whatever its job says", async () => {
    const { recorder: r, sinks } = recorder(["secret"]);
    const cid = (await r.trigger(job("secret"), "triggered")).toString();

    const outcome = (data: SinkJob) => deliver(data, sinks).then((r) => r.status, (e: Error) => e.message);

    expect(await outcome({ sinkId: "public-ops", cid })).toBe(`record ${cid} is not in the public history`);
    expect(await outcome({ sinkId: "public-ops", cid, scope: "private" })).toBe(`record ${cid} is private and subscriber 'public-ops' does not say private: true`);
    expect(await outcome({ sinkId: "private-ops", cid })).toBe(`record ${cid} is not in the public history`);
    expect(await outcome({ sinkId: "private-ops", cid, scope: "private" })).toBe(200);
    expect(sinkServer.deliveries).toHaveLength(1);
    expect(sinkServer.deliveries[0]!.body).toContain('"downstream":"secret"');
  });

  it("withholds from a public subscriber a record naming a project made private since it was written (a late delivery, a re-drive)", async () => {
    const { recorder: r, sinks, store } = recorder([]);
    const cid = (await r.trigger(job("kolla"), "triggered")).toString();
    const nowPrivate = new Set(["kolla"]);
    const readers = HistoryReader.pair(store, { hidden: async (ids: readonly string[]) => new Set(ids.filter((id) => nowPrivate.has(id))) });
    const run = (sinkId: string) => processDelivery(
      { id: `job-${sinkId}`, data: { sinkId, cid }, attemptsMade: 0, opts: { attempts: 1 } } as unknown as Job,
      { history: store, sinks, stats: new SinkStats(redis()), eventSource: "/openci-relay", readers }, log,
    );

    expect(await run("public-ops")).toEqual({ withheld: "private" });
    expect(await run("private-ops")).toEqual({ status: 200 });
    expect(sinkServer.deliveries).toHaveLength(1);
  });
});
