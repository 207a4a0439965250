import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { sendGithubDelivery } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { relayProcessEnv, relayUrl, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { COMMIT, UPSTREAM, acmeAppRepo } from "../helpers/upstream.js";
import { waitForIdle } from "../helpers/idle.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * A worker SIGKILLed in the middle of a report job keeps that upstream check's lock until it expires
 * (src/report/check-lock.ts, 60 s): the check's writes wait it out, delayed again every 250 ms. The
 * invariants here are about dispatches, which do not wait for them.
 */

let redis: TestRedis | undefined;
let github: FakeGithub | undefined;
const processes: SpawnedRelay[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) p.child.kill("SIGKILL");
  await github?.stop();
  await redis?.cleanup();
});

/** A web process and a first worker process (the real entry point) on one private Redis, and the fake GitHub. */
async function startProcesses() {
  redis = await startTestRedis();
  github = await FakeGithub.start({ appId: 7, privateKey: appPrivateKey(), repos: { [UPSTREAM]: { installationId: 1, tags: { "simple-tag": { type: "commit", sha: COMMIT } } }, "acme/app": acmeAppRepo() } });
  const dir = mkdtempSync(join(tmpdir(), "openci-worker-kill-"));
  writeFileSync(join(dir, "openci-map.yml"), `projects:\n  - { id: hello, github: ${UPSTREAM} }\n  - id: acme/app\n    github: acme/app\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: hello }]\n`);
  const env = {
    ...relayProcessEnv({ appId: 7, privateKey: appPrivateKey(), secret: "s3cret", githubHost: github.host, redisUrl: redis.url }),
    // a dead worker's jobs go to another after ~3 s instead of 30 s
    OPENCI_JOB_LOCK_MS: "3000",
  };
  // workers serve only health and metrics, each on a port of its own
  const start = (role: string) => {
    const p = spawnRelay({ ...env, OPENCI_ROLE: role, PORT: "0" }, dir);
    processes.push(p);
    return p;
  };
  const web = start("web");
  const url = await relayUrl(web, 30_000);
  await waitFor("the web process ready", async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 30_000);
  const first = start("worker");
  const deliver = () => sendGithubDelivery(url, "create", githubFixture("create.tag"), { secret: "s3cret" });
  return { gh: github, web, first, start, deliver };
}

describe("fault: a worker killed (SIGKILL) mid-job, web and workers in separate processes", () => {
  it("invariant: the trigger it held is picked up again by another worker (stalled-job recovery) and the downstream is triggered exactly once", async () => {
    const { gh, web, first, start, deliver } = await startProcesses();
    const held = gh.hold("actions/create-workflow-dispatch");

    const res = await deliver();
    await waitFor("the dispatch in flight in the first worker", () => held.held(), 30_000);
    first.child.kill("SIGKILL");
    await first.exited;
    await waitFor("GitHub to see the dispatch's client gone", () => held.dropped());
    start("worker");
    await waitFor("the trigger recovered and dispatched", () => gh.dispatchedRuns.length === 1, 45_000);
    await waitForIdle(redis!.url, { watch: [gh] });

    expect(res.status).toBe(200);
    expect(gh.calls("actions/create-workflow-dispatch")).toHaveLength(2);
    expect(gh.dispatchedRuns).toHaveLength(1);
    expect(gh.problems).toEqual([]);
    expect(web.output().stderr).toBe("");
  }, 120_000);

  it("invariant: killed after GitHub started the run but before the worker heard back, the downstream is still triggered exactly once (the next worker finds the run by its relay run id)", async () => {
    const { gh, first, start, deliver } = await startProcesses();
    gh.onceActed("actions/create-workflow-dispatch", () => first.child.kill("SIGKILL"));

    const res = await deliver();
    await first.exited;
    const second = start("worker");
    await waitFor("the recovered trigger to look for the run", () => gh.calls("actions/list-workflow-runs").length > 0, 45_000);
    await waitFor("the upstream check to show the run", () => gh.checkRuns.some((c) => c.name.includes("acme/app") && c.status === "in_progress"), 30_000);
    await waitForIdle(redis!.url, { watch: [gh] });

    expect(res.status).toBe(200);
    expect(gh.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(gh.dispatchedRuns).toHaveLength(1);
    const check = gh.checkRuns.find((c) => c.name.includes("acme/app"))!;
    expect(check.details_url).toContain(`/actions/runs/${gh.dispatchedRuns[0]!.runId}`);
    expect(second.output().stdout).toContain("an earlier attempt had started the downstream run");
    expect(gh.problems).toEqual([]);
  }, 120_000);

  it("invariant: SIGTERM lets a worker finish the dispatch it is in, then exit 0; no other worker triggers the downstream again", async () => {
    const { gh, first, start, deliver } = await startProcesses();
    gh.delayNext("actions/create-workflow-dispatch", 2500);

    const res = await deliver();
    await waitFor("the dispatch in flight in the first worker", () => gh.calls("actions/create-workflow-dispatch").length === 1, 30_000);
    first.child.kill("SIGTERM");
    const code = await first.exited;
    const exitedAt = Date.now();
    const second = start("worker");
    // Nothing must happen once a worker is there to do it: the new one up, then the relay idle.
    await waitFor("the second worker started", () => second.output().stdout.includes("relay started"), 30_000);
    await waitForIdle(redis!.url, { watch: [gh] });

    expect(res.status).toBe(200);
    expect(code).toBe(0);
    expect(gh.dispatchedRuns).toHaveLength(1);
    expect(gh.dispatchedRuns[0]!.at!).toBeLessThan(exitedAt);
    expect(gh.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(first.output().stdout).toContain("downstream triggered");
    expect(gh.problems).toEqual([]);
  }, 120_000);
});
