import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { FakeJenkins } from "../fakes/jenkins/fake-jenkins.js";
import { sendGithubDelivery } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { relayProcessEnv, relayUrl, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { COMMIT, UPSTREAM } from "../helpers/upstream.js";
import { waitForIdle } from "../helpers/idle.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * A worker SIGKILLed while it starts a Jenkins build (issue 20): web and workers are separate
 * processes, as in production; another worker takes the trigger over (stalled-job recovery), and
 * the job gets one build whatever the moment of the kill. Then the build's result still reaches
 * the upstream check (by polling).
 */

const TOKEN = `11${"a1".repeat(16)}`;
const JOB = "functest/kata-containers";
const PARAMETERS = ["OPENCI_UPSTREAM", "OPENCI_UPSTREAM_REPO", "OPENCI_TAG", "OPENCI_SHA", "OPENCI_RUN"];
const CHECK = "openci: functest";

let redis: TestRedis | undefined;
let github: FakeGithub | undefined;
let jenkins: FakeJenkins | undefined;
const processes: SpawnedRelay[] = [];
afterEach(async () => {
  const spawned = processes.splice(0);
  for (const p of spawned) p.child.kill("SIGKILL");
  await Promise.all(spawned.map((p) => p.exited));
  await jenkins?.stop();
  await github?.stop();
  await redis?.cleanup();
  jenkins = github = redis = undefined;
});

/** A web process and a first worker process (the real entry point) on one private Redis, the fake GitHub and the fake Jenkins. */
async function startProcesses() {
  redis = await startTestRedis();
  github = await FakeGithub.start({ appId: 7, privateKey: appPrivateKey(), repos: { [UPSTREAM]: { installationId: 1, tags: { "simple-tag": { type: "commit", sha: COMMIT } } }, "opnfv/functest": { installationId: 3 } } });
  jenkins = await FakeJenkins.start({ contextPath: "/jenkins", users: [{ user: "relay", token: TOKEN }], jobs: { [JOB]: PARAMETERS } });
  const dir = mkdtempSync(join(tmpdir(), "openci-jenkins-kill-"));
  writeFileSync(join(dir, "openci-map.yml"), `version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - { id: hello, foundation: lf, github: ${UPSTREAM} }
  - id: functest
    foundation: lf
    github: opnfv/functest
    trigger: { jenkins: { url: ${jenkins.url}, job: ${JOB}, user_env: JENKINS_USER, token_env: JENKINS_TOKEN } }
    depends_on: [{ project: hello }]
`);
  const env = {
    ...relayProcessEnv({ appId: 7, privateKey: appPrivateKey(), secret: "s3cret", githubHost: github.host, redisUrl: redis.url }),
    JENKINS_USER: "relay", JENKINS_TOKEN: TOKEN,
    // a dead worker's jobs go to another after ~3 s instead of 30 s
    OPENCI_JOB_LOCK_MS: "3000",
    OPENCI_POLL_INTERVAL_MS: "200",
  };
  const start = (role: string) => {
    const p = spawnRelay({ ...env, OPENCI_ROLE: role, PORT: "0" }, dir, { killAfterMs: 110_000 });
    processes.push(p);
    return p;
  };
  const web = start("web");
  const url = await relayUrl(web, 30_000);
  await waitFor("the web process ready", async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 30_000);
  const first = start("worker");
  const deliver = () => sendGithubDelivery(url, "create", githubFixture("create.tag"), { secret: "s3cret" });
  return { gh: github, jk: jenkins, web, first, start, deliver };
}

const checkOf = (gh: FakeGithub) => gh.checkRuns.find((c) => c.name === CHECK);

/** Runs the one build to its end and waits for the upstream check to say so, then for the relay to be idle. */
async function finishTheBuild(gh: FakeGithub, jk: FakeJenkins) {
  const item = jk.queue[0]!;
  const build = jk.startBuild(item.id);
  jk.finishBuild(item.id, "SUCCESS");
  const check = await waitFor("the upstream check completed", () => (checkOf(gh)?.status === "completed" ? structuredClone(checkOf(gh)) : undefined), 30_000);
  await waitForIdle(redis!.url, { watch: [gh, jk] });
  return { item, build, check };
}

describe("fault: a worker killed (SIGKILL) while it starts a Jenkins build, web and workers in separate processes", () => {
  it("invariant: killed before Jenkins acted on buildWithParameters, the next worker starts the build, and the job has exactly one", async () => {
    const { gh, jk, web, first, start, deliver } = await startProcesses();
    const held = jk.hold("buildWithParameters");

    const res = await deliver();
    await waitFor("the build request in flight in the first worker", () => held.held(), 30_000);
    first.child.kill("SIGKILL");
    await first.exited;
    await waitFor("Jenkins to see the request's client gone", () => held.dropped());
    start("worker");
    await waitFor("the trigger recovered and the build queued", () => jk.queue.length === 1, 45_000);
    const { item, build, check } = await finishTheBuild(gh, jk);

    expect(res.status).toBe(200);
    // The held request was never acted on; the recovered trigger looked for an earlier build, found none, asked once more.
    expect(jk.calls("buildWithParameters").map((r) => r.status)).toEqual([0, 201]);
    expect(jk.calls("queue").length).toBeGreaterThanOrEqual(1);
    expect(jk.queue).toHaveLength(1);
    expect(jk.builds).toHaveLength(1);
    expect(Object.fromEntries(item.parameters.map((p) => [p.name, p.value]))).toMatchObject({ OPENCI_TAG: "simple-tag", OPENCI_SHA: COMMIT, OPENCI_RUN: check.external_id });
    expect(check).toMatchObject({ conclusion: "success", details_url: `${jk.url}/job/functest/job/kata-containers/${build.number}/` });
    expect(gh.problems).toEqual([]);
    expect(jk.problems).toEqual([]);
    expect(web.output().stderr).toBe("");
  }, 120_000);

  it("invariant: killed after Jenkins queued the build but before the worker heard back, the next worker finds the build by OPENCI_RUN and asks for none", async () => {
    const { gh, jk, web, first, start, deliver } = await startProcesses();
    const acted = jk.actThenHold("buildWithParameters");

    const res = await deliver();
    await waitFor("Jenkins to have queued the build for the first worker", () => acted.held(), 30_000);
    first.child.kill("SIGKILL");
    await first.exited;
    const second = start("worker");
    await waitFor("the recovered trigger to show the queued build on the upstream check", () => checkOf(gh)?.status === "in_progress", 45_000);
    const { item, check } = await finishTheBuild(gh, jk);

    expect(res.status).toBe(200);
    expect(acted.dropped()).toBe(true);
    expect(jk.calls("buildWithParameters")).toHaveLength(1);
    expect(jk.calls("queue").length).toBeGreaterThanOrEqual(1);
    expect(jk.queue).toHaveLength(1);
    expect(jk.builds).toHaveLength(1);
    expect(item.parameters.find((p) => p.name === "OPENCI_RUN")!.value).toBe(check.external_id);
    expect(check.conclusion).toBe("success");
    expect(second.output().stdout).toContain("an earlier attempt had started the downstream run");
    expect(gh.problems).toEqual([]);
    expect(jk.problems).toEqual([]);
    expect(web.output().stderr).toBe("");
  }, 120_000);
});
