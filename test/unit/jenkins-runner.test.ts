import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { ForgeError } from "../../src/forge/errors.js";
import { JenkinsRunner, type JenkinsRunnerOptions } from "../../src/forge/jenkins.js";
import type { UpstreamContext } from "../../src/forge/roles.js";
import type { Project } from "../../src/map/graph.js";
import { FakeJenkins, type JenkinsResult } from "../fakes/jenkins/fake-jenkins.js";

const TOKEN = `11${"a1".repeat(16)}`;
const READER_TOKEN = `11${"b2".repeat(16)}`;
const PASSWORD = "correct horse battery staple";
const JOB = "functest/kata-containers";
const OTHER_JOB = "csit/vpp";
const DECLARED = ["OPENCI_UPSTREAM", "OPENCI_UPSTREAM_REPO", "OPENCI_TAG", "OPENCI_SHA", "OPENCI_RUN"];
const SHA = "c".repeat(40);

let jenkins: FakeJenkins;
beforeAll(async () => {
  jenkins = await FakeJenkins.start({
    contextPath: "/jenkins",
    users: [{ user: "relay", token: TOKEN }, { user: "operator", password: PASSWORD }, { user: "reader", token: READER_TOKEN, canBuild: false }],
    jobs: { [JOB]: DECLARED, [OTHER_JOB]: DECLARED, "functest/no-parameters": [] },
  });
});
afterAll(async () => {
  await jenkins.stop();
  expect(jenkins.problems).toEqual([]);
});

const runner = (o: Partial<JenkinsRunnerOptions> = {}) => new JenkinsRunner({ url: jenkins.url, auth: { user: "relay", token: TOKEN }, ...o });
const project = (job = JOB): Project => ({
  id: job.replace("/", "-"), location: { forge: "github", repo: "kata-containers/kata-containers" }, report: undefined,
  trigger: { jenkins: { url: jenkins.url, job, user_env: "JENKINS_USER", token_env: "JENKINS_TOKEN" } },
});
const context = (o: Partial<UpstreamContext> = {}): UpstreamContext => ({
  upstreamId: "nova", upstreamRepo: "openstack/nova", tag: "31.0.0", sha: SHA, runId: `trigger-${randomBytes(16).toString("hex")}`, ...o,
});
const queueId = (runId: string | undefined) => Number(/^queue:(\d+)$/.exec(runId ?? "")![1]);
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as ForgeError);

describe("JenkinsRunner: starting a build", () => {
  it("POSTs exactly the OPENCI_* parameters as form fields with the API token and no crumb; Jenkins drops the one the job does not declare", async () => {
    const ctx = context({ artifacts: [{ purl: "pkg:pypi/nova@31.0.0", digests: [{ name: "sha256", digest: "d".repeat(64) }] }] });
    const before = jenkins.requests.length;

    const started = await runner().triggerPipeline(project(), ctx);

    const id = queueId(started.runId);
    expect(started).toEqual({ kind: "build", runId: `queue:${id}`, webUrl: `${jenkins.url}/job/functest/job/kata-containers/` });
    const sent = jenkins.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([`POST /job/functest/job/kata-containers/buildWithParameters 201`]);
    expect(sent[0]!.query).toEqual({});
    expect(sent[0]!.form).toEqual({
      OPENCI_UPSTREAM: ["nova"], OPENCI_UPSTREAM_REPO: ["openstack/nova"], OPENCI_TAG: ["31.0.0"], OPENCI_SHA: [SHA], OPENCI_RUN: [ctx.runId],
      OPENCI_ARTIFACTS: ['[{"purl":"pkg:pypi/nova@31.0.0","digests":[{"name":"sha256","digest":"' + "d".repeat(64) + '"}]}]'],
    });
    expect(sent[0]).toMatchObject({ auth: "token", user: "relay", crumb: false });
    expect(sent[0]!.headers.cookie).toBeUndefined();
    expect(jenkins.item(id).parameters.map((p) => p.name)).toEqual(DECLARED);
    expect(jenkins.item(id).dropped).toEqual(["OPENCI_ARTIFACTS"]);
  });

  it("with a password, asks /crumbIssuer for a crumb and POSTs it with the session cookie (Jenkins refuses the POST without them)", async () => {
    const auth = `Basic ${Buffer.from(`operator:${PASSWORD}`).toString("base64")}`;
    const bare = await fetch(`${jenkins.url}/job/functest/job/kata-containers/buildWithParameters`, { method: "POST", headers: { Authorization: auth } });
    expect(bare.status).toBe(403);
    expect(await bare.text()).toContain("No valid crumb");
    const before = jenkins.requests.length;

    const started = await runner({ auth: { user: "operator", password: PASSWORD } }).triggerPipeline(project(), context());

    const sent = jenkins.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "GET /crumbIssuer/api/json 200", "POST /job/functest/job/kata-containers/buildWithParameters 201",
    ]);
    expect(sent[1]).toMatchObject({ auth: "password", crumb: true });
    expect(String(sent[1]!.headers.cookie)).toMatch(/^JSESSIONID\.[0-9a-f]+=[0-9a-f]+$/);
    expect(jenkins.item(queueId(started.runId)).user).toBe("operator");
  });

  it("a trigger sent again while its item still waits is merged by Jenkins into that item (303): one queue item, the same run id", async () => {
    const ctx = context();
    const first = await runner().triggerPipeline(project(), ctx);
    const again = await runner().triggerPipeline(project(), ctx);
    const other = await runner().triggerPipeline(project(), context());

    expect(again).toEqual(first);
    expect(other.runId).not.toBe(first.runId);
    expect(jenkins.calls("buildWithParameters").slice(-3).map((r) => r.status)).toEqual([201, 303, 201]);
    expect(jenkins.queue.filter((q) => q.parameters.some((p) => p.value === ctx.runId))).toHaveLength(1);
  });

  it("refused credentials (401) are a configuration error whose hint names the map's variables", async () => {
    const e = await failure(runner({ auth: { user: "relay", token: "11deadbeef" }, vars: { user: "KATA_JENKINS_USER", secret: "KATA_JENKINS_TOKEN" } }).triggerPipeline(project(), context()));

    expect(e).toBeInstanceOf(ForgeError);
    expect(e).toMatchObject({ kind: "config", status: 401 });
    expect(e!.hint).toContain("KATA_JENKINS_USER");
    expect(e!.hint).toContain("KATA_JENKINS_TOKEN");
    expect(e!.hint).toContain("API token");
  });

  it("a user without Job/Build (403), an unknown job (404) and a job without parameters (400) are configuration errors saying what to fix", async () => {
    const forbidden = await failure(runner({ auth: { user: "reader", token: READER_TOKEN } }).triggerPipeline(project(), context()));
    const missing = await failure(runner().triggerPipeline(project("functest/kata"), context()));
    const unparameterised = await failure(runner().triggerPipeline(project("functest/no-parameters"), context()));

    expect(forbidden).toMatchObject({ kind: "config", status: 403 });
    expect(forbidden!.hint).toContain("Job/Build on functest/kata-containers");
    expect(missing).toMatchObject({ kind: "config", status: 404 });
    expect(missing!.hint).toContain("No job 'functest/kata'");
    expect(unparameterised).toMatchObject({ kind: "config", status: 400 });
    expect(unparameterised!.hint).toContain("OPENCI_* string parameters");
  });

  it("a 503 is transient, a 429 is a rate limit with Retry-After's pause, and a closed port is transient", async () => {
    jenkins.fail("buildWithParameters", 503);
    const unavailable = await failure(runner().triggerPipeline(project(), context()));
    jenkins.fail("buildWithParameters", 429, { headers: { "Retry-After": "7" } });
    const limited = await failure(runner().triggerPipeline(project(), context()));
    const closed = await FakeJenkins.start({ users: [] });
    const url = closed.url;
    await closed.stop();
    const unreachable = await failure(runner({ url, timeoutMs: 2000 }).triggerPipeline(project(), context()));

    expect(unavailable).toMatchObject({ kind: "transient", status: 503 });
    expect(limited).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 7000 });
    expect(unreachable).toBeInstanceOf(ForgeError);
    expect(unreachable).toMatchObject({ kind: "transient" });
  });
});

describe("JenkinsRunner: a build's status", () => {
  it("follows the queue item from queued to its build in progress", async () => {
    const r = runner();
    const { runId } = await r.triggerPipeline(project(), context());
    const queued = await r.runStatus(JOB, runId!);
    const build = jenkins.startBuild(queueId(runId), Date.parse("2026-12-08T10:00:00Z"));
    const running = await r.runStatus(JOB, runId!);

    expect(queued).toEqual({ state: "queued", conclusion: undefined, webUrl: `${jenkins.url}/job/functest/job/kata-containers/`, startedAt: undefined, updatedAt: undefined });
    expect(running).toEqual({
      state: "in_progress", conclusion: undefined, webUrl: `${jenkins.url}/job/functest/job/kata-containers/${build.number}/`,
      startedAt: "2026-12-08T10:00:00.000Z", updatedAt: undefined,
    });
  });

  it.each<[JenkinsResult, string]>([
    ["SUCCESS", "success"], ["UNSTABLE", "failure"], ["FAILURE", "failure"], ["ABORTED", "cancelled"], ["NOT_BUILT", "skipped"],
  ])("maps a build that ended %s to %s", async (result, conclusion) => {
    const r = runner();
    const { runId } = await r.triggerPipeline(project(), context());
    jenkins.startBuild(queueId(runId), Date.parse("2026-12-08T10:00:00Z"));
    jenkins.finishBuild(queueId(runId), result, { duration: 90_000 });

    expect(await r.runStatus(JOB, runId!)).toMatchObject({
      state: "completed", conclusion, startedAt: "2026-12-08T10:00:00.000Z", updatedAt: "2026-12-08T10:01:30.000Z",
    });
  });

  it("a queue item cancelled before it started is a cancelled run", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    jenkins.cancelQueueItem(queueId(runId));

    expect(await runner().runStatus(JOB, runId!)).toMatchObject({ state: "completed", conclusion: "cancelled" });
  });

  it("finds the build by its queueId among the job's builds once Jenkins has forgotten the queue item", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    // another build started after it, so the one looked for is not simply the newest
    const { runId: later } = await runner().triggerPipeline(project(), context());
    const build = jenkins.startBuild(queueId(runId));
    jenkins.startBuild(queueId(later));
    jenkins.finishBuild(queueId(runId), "FAILURE");
    jenkins.forgetQueueItem(queueId(runId));
    const before = jenkins.requests.length;

    const status = await runner().runStatus(JOB, runId!);

    expect(status).toMatchObject({ state: "completed", conclusion: "failure", webUrl: `${jenkins.url}/job/functest/job/kata-containers/${build.number}/` });
    expect(jenkins.requests.slice(before).map((r) => `${r.path} ${r.status}`)).toEqual([
      `/queue/item/${queueId(runId)}/api/json 404`, "/job/functest/job/kata-containers/api/json 200", `/job/functest/job/kata-containers/${build.number}/api/json 200`,
    ]);
    expect(jenkins.requests.at(-2)!.query.tree).toEqual(["builds[number,queueId]"]);
  });

  it("says so when the queue item is forgotten and no build has its queueId (cancelled long ago)", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    jenkins.cancelQueueItem(queueId(runId));
    jenkins.forgetQueueItem(queueId(runId));

    const e = await failure(runner().runStatus(JOB, runId!));
    expect(e).toMatchObject({ kind: "config" });
    expect(e!.message).toContain(`no build of ${JOB} has queueId ${queueId(runId)}`);
  });

  it("refuses a run id that is not a queue item's, and a queue item of another job", async () => {
    const { runId } = await runner().triggerPipeline(project(OTHER_JOB), context());

    expect(await failure(runner().runStatus(JOB, "12"))).toMatchObject({ kind: "config", message: expect.stringContaining("queue:<N>") });
    expect(await failure(runner().runStatus(JOB, runId!))).toMatchObject({ kind: "config", message: expect.stringContaining(`is not a build of ${JOB}`) });
  });

  it("refuses a result that is not one of Jenkins' five, rather than guessing", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "SUCCESS");
    jenkins.build(queueId(runId)).result = "PARTIALLY_GREEN" as JenkinsResult;

    expect(await failure(runner().runStatus(JOB, runId!))).toMatchObject({ kind: "config", message: expect.stringContaining("'PARTIALLY_GREEN'") });
  });

  it("requests only the configured URL, whatever Jenkins' own URL in its answers says, and shows that one to people", async () => {
    const proxied = await FakeJenkins.start({ contextPath: "/ci", rootUrl: "https://jenkins.example.org/ci", users: [{ user: "relay", token: TOKEN }], jobs: { [JOB]: DECLARED } });
    try {
      const r = runner({ url: `${proxied.url}/` });
      const { runId } = await r.triggerPipeline(project(), context());
      const build = proxied.startBuild(queueId(runId));
      proxied.finishBuild(queueId(runId), "SUCCESS", { artifacts: ["out/report.html"] });

      const status = await r.runStatus(JOB, runId!);
      const artifacts = await r.runArtifacts(JOB, runId!);

      expect(status.webUrl).toBe(`https://jenkins.example.org/ci/job/functest/job/kata-containers/${build.number}/`);
      expect(artifacts).toEqual([{ name: "out/report.html", url: `https://jenkins.example.org/ci/job/functest/job/kata-containers/${build.number}/artifact/out/report.html` }]);
      expect(proxied.requests.length).toBeGreaterThanOrEqual(4);
      expect(proxied.requests.every((q) => q.status === 200 || q.status === 201)).toBe(true);
      expect(proxied.problems).toEqual([]);
    } finally {
      await proxied.stop();
    }
  });
});

describe("JenkinsRunner: the run an interrupted trigger started", () => {
  it("is found by its OPENCI_RUN while queued and once built, and no other run's or other job's is taken for it", async () => {
    const since = new Date();
    const mine = context();
    const started = await runner().triggerPipeline(project(), mine);
    await runner().triggerPipeline(project(), context());
    const elsewhere = await runner().triggerPipeline(project(OTHER_JOB), context({ runId: `trigger-${randomBytes(16).toString("hex")}` }));

    const whileQueued = await runner().findTriggered(project(), mine, since);
    const build = jenkins.startBuild(queueId(started.runId));
    const onceBuilt = await runner().findTriggered(project(), mine, since);
    const notOurs = await runner().findTriggered(project(), context(), since);
    const otherJobsRun = await runner().findTriggered(project(), { ...mine, runId: jenkins.item(queueId(elsewhere.runId)).parameters.find((p) => p.name === "OPENCI_RUN")!.value }, since);

    expect(whileQueued).toEqual(started);
    expect(onceBuilt).toEqual({ kind: "build", runId: started.runId, webUrl: `${jenkins.url}/job/functest/job/kata-containers/${build.number}/` });
    expect(notOurs).toBeUndefined();
    expect(otherJobsRun).toBeUndefined();
  });

  it("a trigger whose answer was lost (Jenkins queued the build) is a transient error, and the build is found again", async () => {
    const ctx = context();
    const since = new Date();
    jenkins.loseResponse("buildWithParameters");

    const e = await failure(runner().triggerPipeline(project(), ctx));
    const found = await runner().findTriggered(project(), ctx, since);

    expect(e).toMatchObject({ kind: "transient" });
    const queued = jenkins.queue.filter((q) => q.parameters.some((p) => p.value === ctx.runId));
    expect(queued).toHaveLength(1);
    expect(found).toEqual({ kind: "build", runId: `queue:${queued[0]!.id}`, webUrl: `${jenkins.url}/job/functest/job/kata-containers/` });
  });

  it("a trigger Jenkins never answers times out as transient, and nothing was queued", async () => {
    const ctx = context();
    const held = jenkins.hold("buildWithParameters");

    const e = await failure(runner({ timeoutMs: 300 }).triggerPipeline(project(), ctx));

    expect(held.held()).toBe(true);
    expect(e).toMatchObject({ kind: "transient", message: expect.stringContaining("no complete answer within 300 ms") });
    expect(jenkins.queue.some((q) => q.parameters.some((p) => p.value === ctx.runId))).toBe(false);
    expect(await runner().findTriggered(project(), ctx, new Date(0))).toBeUndefined();
  });
});

describe("JenkinsRunner: what a build left", () => {
  it("names the failing tests of its report (FAILED and REGRESSION), not the passed, fixed or skipped ones", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "UNSTABLE", {
      tests: [
        { className: "functest.tests.Healthcheck", name: "test_connection", status: "PASSED" },
        { className: "functest.tests.Healthcheck", name: "test_api", status: "FAILED" },
        { className: "functest.tests.Smoke", name: "test_boot", status: "REGRESSION" },
        { className: "functest.tests.Smoke", name: "test_fixed", status: "FIXED" },
        { className: "functest.tests.Smoke", name: "test_skipped", status: "SKIPPED" },
      ],
    });

    expect(await runner().failedJobs(JOB, runId!)).toEqual(["functest.tests.Healthcheck.test_api", "functest.tests.Smoke.test_boot"]);
    expect(jenkins.calls("testReport").at(-1)!.query.tree).toEqual(["suites[cases[className,name,status]]"]);
  });

  it("names at most 100 failing tests", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "UNSTABLE", { tests: Array.from({ length: 150 }, (_, i) => ({ className: "t.Many", name: `test_${i}`, status: "FAILED" as const })) });

    const failed = await runner().failedJobs(JOB, runId!);
    expect(failed).toHaveLength(100);
    expect(failed[0]).toBe("t.Many.test_0");
  });

  it("names none for a build without a test report, or one not started", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    const queued = await runner().failedJobs(JOB, runId!);
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "FAILURE");

    expect(queued).toEqual([]);
    expect(await runner().failedJobs(JOB, runId!)).toEqual([]);
    expect(jenkins.calls("testReport").at(-1)!.status).toBe(404);
  });

  it("lists the archived artifacts as links below the build's page", async () => {
    const { runId } = await runner().triggerPipeline(project(), context());
    const build = jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "SUCCESS", { artifacts: ["results/functest.xml", "logs/boot log.txt"] });
    const buildUrl = `${jenkins.url}/job/functest/job/kata-containers/${build.number}/`;

    expect(await runner().runArtifacts(JOB, runId!)).toEqual([
      { name: "results/functest.xml", url: `${buildUrl}artifact/results/functest.xml` },
      { name: "logs/boot log.txt", url: `${buildUrl}artifact/logs/boot%20log.txt` },
    ]);
    expect(await runner().runArtifacts(JOB, (await runner().triggerPipeline(project(), context())).runId!)).toEqual([]);
  });

  it("has no rerun in place and no check suites", async () => {
    expect(await runner().retryRun()).toBeUndefined();
    expect(await runner().checkSuiteLabels()).toBe("");
  });
});
