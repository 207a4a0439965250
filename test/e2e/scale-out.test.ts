import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub, type FakeRepo } from "../fakes/github/fake-github.js";
import { sendGithubDelivery } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestCluster } from "../helpers/redis-cluster.js";
import { startTestRedis } from "../helpers/redis.js";
import { relayProcessEnv, relayUrl, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { UPSTREAM, downstreamChecks } from "../helpers/upstream.js";
import { waitForIdle } from "../helpers/idle.js";
import { waitFor } from "../helpers/wait-for.js";

const TAGS = 30;
const DOWNSTREAMS = ["acme/app", "acme/lib", "acme/cli"];
const SECRET = "s3cret";
const tagName = (i: number) => `v1.${i}.0`;
const shaOf = (tag: string) => createHash("sha1").update(tag).digest("hex");

const MAP = `projects:
  - { id: hello, github: ${UPSTREAM} }
${DOWNSTREAMS.map((d) => `  - { id: ${d}, github: ${d}, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }`).join("\n")}
`;
const repos = (): Record<string, FakeRepo> => ({
  [UPSTREAM]: { installationId: 1, tags: Object.fromEntries(Array.from({ length: TAGS }, (_, i) => [tagName(i), { type: "commit" as const, sha: shaOf(tagName(i)) }])) },
  ...Object.fromEntries(DOWNSTREAMS.map((d, i) => [d, { installationId: 2 + i, workflows: { "ci.yml": {} } }])),
});

/** A seeded generator, so a failing run's choice of web process can be replayed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each([
  ["one Redis", async () => startTestRedis()],
  ["a three-master Redis Cluster", async () => startTestCluster()],
])("scale-out: two web and three worker processes on %s", (_backend, startRedis) => {
  it("invariant: with each delivery sent to either web process, duplicated to the other and redelivered under a new id, every downstream is triggered exactly once per tag and every delivery is answered 2xx", async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.cleanup());
    const github = await FakeGithub.start({ appId: 7, privateKey: appPrivateKey(), repos: repos() });
    cleanups.push(() => github.stop());
    const dir = mkdtempSync(join(tmpdir(), "openci-scale-out-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "openci-map.yml"), MAP);
    const env = relayProcessEnv({ appId: 7, privateKey: appPrivateKey(), secret: SECRET, githubHost: github.host, redisUrl: redis.url });
    const start = (role: "web" | "worker"): SpawnedRelay => {
      const p = spawnRelay({ ...env, OPENCI_ROLE: role, PORT: "0" }, dir, { killAfterMs: 150_000 });
      cleanups.push(async () => {
        p.child.kill("SIGKILL");
        await p.exited;
      });
      return p;
    };
    const webProcesses = [start("web"), start("web")];
    const webs = await Promise.all(webProcesses.map(async (p) => ({ url: await relayUrl(p), process: p })));
    const workers = [start("worker"), start("worker"), start("worker")];
    await waitFor("both web processes ready", async () => {
      const answers = await Promise.all(webs.map((w) => fetch(`${w.url}/readyz`).then((r) => r.status, () => 0)));
      return answers.every((s) => s === 200);
    }, 60_000);
    await waitFor("three workers started", () => workers.every((w) => w.output().stdout.includes('"msg":"relay started"')), 60_000);
    const random = seeded(9);
    const deliveries: { tag: string; status: number }[] = [];
    const send = async (web: number, event: "create" | "push", tag: string, id: string) => {
      const payload = githubFixture(event === "create" ? "create.tag" : "push.tag");
      if (event === "create") payload.ref = tag;
      else Object.assign(payload, { ref: `refs/tags/${tag}`, after: shaOf(tag) });
      const { status } = await sendGithubDelivery(webs[web]!.url, event, payload, { secret: SECRET, id });
      deliveries.push({ tag, status });
    };

    await Promise.all(Array.from({ length: TAGS }, async (_, i) => {
      const tag = tagName(i);
      const [first, other] = random() < 0.5 ? [0, 1] : [1, 0];
      const pushId = randomUUID();
      await Promise.all([
        send(first, "create", tag, randomUUID()),
        send(first, "push", tag, pushId),
        // GitHub retrying a delivery it thinks timed out: the same id, racing to the other process.
        ...(i % 2 === 0 ? [send(other, "push", tag, pushId)] : []),
        // A redelivery under a new id.
        ...(i % 3 === 0 ? [send(other, "push", tag, randomUUID())] : []),
      ]);
    }));
    const expected = TAGS * DOWNSTREAMS.length;
    await waitFor(`${expected} check runs in progress upstream`, () => downstreamChecks(github).filter((c) => c.status === "in_progress").length >= expected, 90_000);
    await waitForIdle(redis.url, { watch: [github], timeoutMs: 60_000 });

    const triggered: Record<string, number> = {};
    for (const c of github.calls("actions/create-workflow-dispatch")) {
      const key = `${c.params.owner}/${c.params.repo}@${c.body.inputs.openci_tag}`;
      triggered[key] = (triggered[key] ?? 0) + 1;
    }
    const checks: Record<string, number> = {};
    for (const c of downstreamChecks(github)) checks[`${c.name}@${c.head_sha}`] = (checks[`${c.name}@${c.head_sha}`] ?? 0) + 1;
    const triggeredBy = workers.map((w) => w.output().stdout.split("\n").filter((l) => l.includes('"msg":"downstream triggered"')).length);
    expect(deliveries.filter((d) => d.status < 200 || d.status > 299)).toEqual([]);
    expect(deliveries).toHaveLength(TAGS * 2 + TAGS / 2 + TAGS / 3);
    expect(Object.keys(triggered)).toHaveLength(expected);
    expect(Object.entries(triggered).filter(([, n]) => n !== 1)).toEqual([]);
    expect(github.dispatchedRuns).toHaveLength(expected);
    expect(Object.keys(checks)).toHaveLength(expected);
    expect(Object.entries(checks).filter(([, n]) => n !== 1)).toEqual([]);
    expect(github.problems).toEqual([]);
    // Every worker took part: the work was spread, not done by one of them.
    expect(triggeredBy.reduce((a, b) => a + b, 0)).toBe(expected);
    expect(triggeredBy.filter((n) => n === 0)).toEqual([]);
    expect([...webs.map((w) => w.process), ...workers].map((p) => p.output().stderr)).toEqual(["", "", "", "", ""]);
  }, 150_000);
});
