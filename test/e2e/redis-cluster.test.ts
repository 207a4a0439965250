import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Queue } from "bullmq";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";
import { createRedis } from "../../src/redis/connection.js";
import { releaseWhen } from "../helpers/history.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";
import { startTestCluster, type TestCluster } from "../helpers/redis-cluster.js";
import type { Harness } from "../helpers/relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

let cluster: TestCluster | undefined;
beforeAll(async () => {
  cluster = await startTestCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.cleanup();
});
const startHarness = useHarness();

/** Every key on each master, by its port. */
async function keysByNode(c: TestCluster): Promise<Map<number, string[]>> {
  const all = await Promise.all(c.nodes().map((n) => n.keys("*")));
  return new Map(c.ports.map((port, i) => [port, all[i]!]));
}

/** How many jobs of `queue` are in `state`, read through a cluster connection of the relay's own kind. */
async function jobsIn(url: string, queue: keyof typeof QUEUES, state: "completed" | "failed"): Promise<number> {
  const connection = createRedis(url, "worker");
  const q = new Queue(QUEUES[queue], { connection, prefix: KEY_PREFIX });
  try {
    return (await q.getJobCounts(state))[state] ?? 0;
  } finally {
    await q.close();
    connection.disconnect();
  }
}

describe("the relay on a three-master Redis Cluster", () => {
  let h: Harness;

  it("invariant: a signed tag delivery (and its redelivery) dispatches the dependant exactly once, reports the upstream check run, and every key the relay writes is on the one master that owns {openci}'s slot", async () => {
    h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: { [UPSTREAM]: upstreamRepo(), "acme/app": acmeAppRepo() }, redisUrl: cluster!.url });

    const created = await h.send("create.tag");
    const pushed = await h.send("push.tag");
    const redelivered = await h.send("push.tag", undefined, { id: pushed.id });
    const check = await runningCheck(h, "openci: acme/app", COMMIT);
    await sendRun(h, { id: runIdOf(check), repo: "acme/app", conclusion: "success" });
    // The history API reads what the history's Lua script appended on the cluster.
    const release = await releaseWhen(h, "hello", "simple-tag", { "acme/app": "passed" });
    await waitFor("the check run completed upstream", () => downstreamChecks(h.github).find((c) => c.conclusion === "success"), 15_000);
    await h.idle();

    expect([created.status, pushed.status, redelivered.status]).toEqual([200, 200, 200]);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(h.github.dispatchedRuns).toEqual([expect.objectContaining({ repo: "acme/app" })]);
    expect(downstreamChecks(h.github).map((c) => [c.repo, c.head_sha, c.name, c.status, c.conclusion])).toEqual([
      [UPSTREAM, COMMIT, "openci: acme/app", "completed", "success"],
    ]);
    expect(release.downstreams.map((d: { project: string; status: string }) => [d.project, d.status])).toEqual([["acme/app", "passed"]]);
    expect(h.logs.filter((l) => JSON.parse(l).level >= 40)).toEqual([]);
    expect(await jobsIn(cluster!.url, "events", "completed")).toBeGreaterThanOrEqual(3);
    expect(await jobsIn(cluster!.url, "trigger", "failed")).toBe(0);
    const byNode = await keysByNode(cluster!);
    const [owner] = cluster!.ports.filter((p) => byNode.get(p)!.length > 0);
    const slot = Number(await cluster!.nodes()[0]!.cluster("KEYSLOT", KEY_PREFIX));
    const slots = await cluster!.nodes()[0]!.cluster("SLOTS");
    expect([...byNode.values()].filter((keys) => keys.length > 0)).toHaveLength(1);
    expect(slots.find(([from, to]) => from <= slot && slot <= to)![2]![1]).toBe(owner);
    expect(byNode.get(owner!)!.filter((k) => !k.startsWith(`${KEY_PREFIX}:`))).toEqual([]);
    expect(byNode.get(owner!)!.some((k) => k.startsWith(`${KEY_PREFIX}:hist:`))).toBe(true);
    expect(byNode.get(owner!)!.some((k) => k.startsWith(`${KEY_PREFIX}:${QUEUES.trigger}:`))).toBe(true);
  }, 60_000);

  it("warns at start when any master (not only the one first asked) may evict keys", async () => {
    const evicting = cluster!.nodes()[2]!;
    await evicting.config("SET", "maxmemory-policy", "allkeys-lru");
    try {
      h = await startHarness({ map: GITHUB_TO_GITHUB_MAP, repos: { [UPSTREAM]: upstreamRepo(), "acme/app": acmeAppRepo() }, redisUrl: cluster!.url });
      const warnings = h.logs.filter((l) => l.includes("maxmemory-policy is 'allkeys-lru'"));

      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`:${cluster!.ports[2]}`);
    } finally {
      await evicting.config("SET", "maxmemory-policy", "noeviction");
    }
  }, 60_000);
});
