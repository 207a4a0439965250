import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks, octoRepo } from "../helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM, runningCheck } from "../helpers/runs.js";
import { releaseWhen } from "../helpers/history.js";
import { waitFor } from "../helpers/wait-for.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeJenkins, type FakeTestCase } from "../fakes/jenkins/fake-jenkins.js";

/**
 * A Jenkins job as a downstream (issue 20 part 3): the relay starts it with buildWithParameters and
 * the OPENCI_* parameters, follows its queue item to its build, and shows the build's result on the
 * upstream, whether it learns it by polling or from the Notification plugin.
 */

const TOKEN = `11${"a1".repeat(16)}`;
const OTHER_TOKEN = `11${"c3".repeat(16)}`;
const NOTIFY_SECRET = "n0tify-s3cret-for-functest";
const JOB = "functest/kata-containers";
const OTHER_JOB = "csit/vpp";
const PARAMETERS = ["OPENCI_UPSTREAM", "OPENCI_UPSTREAM_REPO", "OPENCI_TAG", "OPENCI_SHA", "OPENCI_RUN"];
const FUNCTEST_REPO = "opnfv/functest";
const CHECK = "openci: functest";
const ENV = { JENKINS_USER: "relay", JENKINS_TOKEN: TOKEN, FUNCTEST_NOTIFY_SECRET: NOTIFY_SECRET };

const functest = (jenkins: FakeJenkins, upstream: string, o: { notify?: boolean } = {}) => `  - id: functest
    foundation: lf
    github: ${FUNCTEST_REPO}
    trigger:
      jenkins:
        url: ${jenkins.url}
        job: ${JOB}
        user_env: JENKINS_USER
        token_env: JENKINS_TOKEN
${o.notify ? "        notify_secret_env: FUNCTEST_NOTIFY_SECRET\n" : ""}    depends_on: [{ project: ${upstream} }]
`;

/** hello (the fixtures' GitHub upstream) → functest, a Jenkins job. */
const githubMap = (jenkins: FakeJenkins, o: { notify?: boolean } = {}) => `
version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - id: hello
    foundation: lf
    github: ${UPSTREAM}
${functest(jenkins, "hello", o)}`;

/** nova on Gerrit (polled) → octo (a GitHub workflow) and functest (a Jenkins job). */
const gerritMap = (gerrit: FakeGerrit, jenkins: FakeJenkins) => `
version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - id: nova
    foundation: lf
    gerrit:
      url: ${gerrit.url}
      project: openstack/nova
      user_env: GERRIT_USER
      password_env: GERRIT_PASSWORD
  - id: octo
    foundation: lf
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: nova, tags: "v*" }]
${functest(jenkins, "nova")}`;

const repos = () => ({ [UPSTREAM]: upstreamRepo(), [FUNCTEST_REPO]: { installationId: 7 } });

const TESTS: FakeTestCase[] = [
  { className: "functest.kata.BootTest", name: "test_boot_vm", status: "FAILED" },
  { className: "functest.kata.NetTest", name: "test_ping", status: "REGRESSION" },
  { className: "functest.kata.NetTest", name: "test_dns", status: "PASSED" },
  { className: "functest.kata.StorageTest", name: "test_attach", status: "SKIPPED" },
];
const FAILING = ["functest.kata.BootTest.test_boot_vm", "functest.kata.NetTest.test_ping"];

const startHarness = useHarness();
let jenkins: FakeJenkins;
beforeEach(async () => {
  jenkins = await FakeJenkins.start({ contextPath: "/jenkins", users: [{ user: "relay", token: TOKEN }, { user: "someone", token: OTHER_TOKEN }], jobs: { [JOB]: PARAMETERS, [OTHER_JOB]: PARAMETERS } });
});
afterEach(async () => {
  await jenkins.stop();
  expect(jenkins.problems).toEqual([]);
});

/** The check as it is now (a copy: the fake updates its own object in place). */
const functestCheck = (h: Harness) => {
  const check = downstreamChecks(h.github).find((c) => c.name === CHECK);
  return check && structuredClone(check);
};
const completedCheck = (h: Harness) => waitFor(`${CHECK} completed`, () => (functestCheck(h)?.status === "completed" ? functestCheck(h) : undefined), 20_000);
/** The queue item the relay's build request made (the first one of the job). */
const queued = () => waitFor("a build queued in Jenkins", () => jenkins.queue.find((q) => q.job === JOB), 20_000);
const buildUrl = (number: number) => `${jenkins.url}/job/functest/job/kata-containers/${number}/`;
const idle = (h: Harness, ignore: Ignored[] = []) => h.idle({ watch: [jenkins], ignore });

describe("a Jenkins job as a downstream (issue 20)", () => {
  it("a polled Gerrit tag → one GitHub dispatch and one Jenkins build with exactly the OPENCI_* parameters; the build's result is in the release's history", async () => {
    const gerrit = await FakeGerrit.start({ contextPath: "/r", user: "openci", password: "http-password" });
    try {
      gerrit.addProject("openstack/nova");
      gerrit.addTag("openstack/nova", "v29.0.0");
      const h = await startHarness({
        map: gerritMap(gerrit, jenkins), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), [FUNCTEST_REPO]: { installationId: 7 } },
        env: { ...ENV, GERRIT_USER: "openci", GERRIT_PASSWORD: "http-password", OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300" },
      });
      const WATCHER: Ignored = { queue: "events", name: "watch-poll", why: "the Gerrit upstream is polled for the whole test" };
      await waitFor("the baseline", () => h.logs.some((l) => l.includes("watch: baseline taken") && l.includes('"upstream":"nova"')), 15_000);

      const tag = gerrit.addTag("openstack/nova", "v30.0.0", { annotated: true });
      await waitFor("the GitHub dispatch", () => h.github.calls("actions/create-workflow-dispatch").length >= 1, 20_000);
      const item = await queued();
      const started = jenkins.startBuild(item.id);
      jenkins.finishBuild(item.id, "SUCCESS", { artifacts: ["results/functest.xml"] });
      const release = await releaseWhen(h, "nova", "v30.0.0", { functest: "passed" });
      await h.idle({ watch: [jenkins], ignore: [WATCHER] });

      // Each downstream once: one dispatch, one build request, one queue item, one build.
      expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
      expect(h.github.calls("actions/create-workflow-dispatch")[0]!.body.inputs).toMatchObject({ openci_tag: "v30.0.0", openci_sha: tag.commit });
      expect(jenkins.calls("buildWithParameters")).toHaveLength(1);
      expect(jenkins.queue).toHaveLength(1);
      expect(jenkins.builds).toHaveLength(1);
      // Exactly the five parameters, as form fields, with the API token and no crumb; nothing dropped.
      const [request] = jenkins.calls("buildWithParameters");
      expect(request!.path).toBe("/job/functest/job/kata-containers/buildWithParameters");
      expect(request).toMatchObject({ auth: "token", user: "relay", status: 201, query: {} });
      expect(Object.keys(request!.form).sort()).toEqual([...PARAMETERS].sort());
      expect(Object.fromEntries(item.parameters.map((p) => [p.name, p.value]))).toEqual({
        OPENCI_UPSTREAM: "nova", OPENCI_UPSTREAM_REPO: "openstack/nova", OPENCI_TAG: "v30.0.0", OPENCI_SHA: tag.commit,
        OPENCI_RUN: expect.stringMatching(/^trigger-[0-9a-f]{32}$/),
      });
      expect(item.dropped).toEqual([]);
      // The release shows the Jenkins build: its result, its page, its archived artifact.
      expect(release.release).toMatchObject({ project: "nova", forge: "gerrit", tag: "v30.0.0", sha: tag.commit });
      const downstream = release.downstreams.find((d: any) => d.project === "functest");
      expect(downstream).toMatchObject({ status: "passed", url: buildUrl(started.number) });
      expect(downstream.artifacts).toEqual([{ name: "results/functest.xml", url: `${buildUrl(started.number)}artifact/results/functest.xml` }]);
      // Its result came by polling: no notification was sent.
      expect(jenkins.notifications).toEqual([]);
      expect(gerrit.problems).toEqual([]);
    } finally {
      await gerrit.stop();
    }
  }, 90_000);

  it("a GitHub tag → a Jenkins build that ends UNSTABLE with failing tests: the upstream check fails naming them, learnt by polling", async () => {
    const h = await startHarness({ map: githubMap(jenkins), repos: repos(), env: ENV });
    await h.send("create.tag");
    const item = await queued();
    const triggered = structuredClone(await runningCheck(h, CHECK));
    const build = jenkins.startBuild(item.id);
    // Polled while it builds: the check links the build.
    const running = await waitFor("the check showing the build running", () => (functestCheck(h)?.details_url === buildUrl(build.number) ? functestCheck(h) : undefined), 20_000);
    jenkins.finishBuild(item.id, "UNSTABLE", { tests: TESTS });
    const done = await completedCheck(h);
    await idle(h);

    expect(triggered.details_url).toBe(`${jenkins.url}/job/functest/job/kata-containers/`);
    expect(running).toMatchObject({ status: "in_progress", output: { title: "Running: functest" } });
    expect(done.conclusion).toBe("failure");
    expect(done.output.title).toBe("Failed: functest (2 failing jobs)");
    expect(done.output.summary).toContain(`**Failing jobs:**\n- ${FAILING[0]}\n- ${FAILING[1]}`);
    expect(done.output.summary).not.toContain("test_dns");
    expect(done.details_url).toBe(buildUrl(build.number));
    expect(Object.fromEntries(item.parameters.map((p) => [p.name, p.value]))).toMatchObject({
      OPENCI_UPSTREAM: "hello", OPENCI_UPSTREAM_REPO: UPSTREAM, OPENCI_TAG: "simple-tag", OPENCI_SHA: COMMIT, OPENCI_RUN: done.external_id,
    });
    // By polling: the build read several times, its test report once the build ended, no notification.
    expect(jenkins.notifications).toEqual([]);
    expect(jenkins.calls("build").length).toBeGreaterThanOrEqual(2);
    expect(jenkins.calls("testReport").map((r) => r.status)).toEqual([200]);
    expect(jenkins.calls("buildWithParameters")).toHaveLength(1);
    const release = await releaseWhen(h, "hello", "simple-tag", { functest: "failed" });
    expect(release.downstreams[0]).toMatchObject({ failedJobs: FAILING, url: buildUrl(build.number) });
  }, 60_000);

  it.each([
    ["SUCCESS", "success", "Passed: functest"],
    ["FAILURE", "failure", "Failed: functest (2 failing jobs)"],
  ] as const)("with the Notification plugin: STARTED then COMPLETED (%s) move the check, each confirmed by Jenkins' API; a wrong secret is 401, another job 403", async (result, conclusion, title) => {
    // Polled only every 10 minutes: in this test only the notifications can bring the build's states in time.
    const h = await startHarness({ map: githubMap(jenkins, { notify: true }), repos: repos(), env: { ...ENV, OPENCI_POLL_INTERVAL_MS: "600000" } });
    const POLL: Ignored = { queue: "trigger", name: "poll", why: "the build is polled only every 10 minutes in this test" };
    const endpoint = `${h.url}/api/jenkins/notifications/${NOTIFY_SECRET}`;
    await h.send("create.tag");
    const item = await queued();
    await runningCheck(h, CHECK);
    await idle(h, [POLL]);
    const readsBefore = jenkins.calls("build").length + jenkins.calls("queueItem").length;

    const build = jenkins.startBuild(item.id);
    // The plugin sends QUEUED and STARTED together when the build starts.
    expect((await jenkins.notify(endpoint, item.id, "QUEUED")).status).toBe(202);
    expect((await jenkins.notify(endpoint, item.id, "STARTED")).status).toBe(202);
    const running = await waitFor("the check showing the build running", () => (functestCheck(h)?.details_url === buildUrl(build.number) ? functestCheck(h) : undefined), 20_000);
    await idle(h, [POLL]);
    const runningAfterIdle = functestCheck(h);

    // A notification with a wrong secret, and one about another job under this job's secret: refused, nothing enqueued.
    const wrong = await jenkins.notify(`${h.url}/api/jenkins/notifications/not-the-secret`, item.id, "STARTED");
    const other = await startOtherJobBuild(jenkins);
    const foreign = await jenkins.notify(endpoint, other, "STARTED");
    await idle(h, [POLL]);
    expect(functestCheck(h)).toEqual(runningAfterIdle);

    jenkins.finishBuild(item.id, result, { tests: TESTS });
    expect((await jenkins.notify(endpoint, item.id, "COMPLETED")).status).toBe(202);
    const done = await completedCheck(h);
    expect((await jenkins.notify(endpoint, item.id, "FINALIZED")).status).toBe(202);
    await idle(h, [POLL]);

    expect(running).toMatchObject({ status: "in_progress", output: { title: "Running: functest" } });
    expect(done).toMatchObject({ conclusion, details_url: buildUrl(build.number), output: { title } });
    if (conclusion === "failure") expect(done.output.summary).toContain(`**Failing jobs:**\n- ${FAILING[0]}\n- ${FAILING[1]}`);
    expect(functestCheck(h)).toMatchObject({ status: "completed", conclusion });
    expect(wrong.status).toBe(401);
    expect(foreign.status).toBe(403);
    expect(foreign.body).toContain(OTHER_JOB);
    // Each accepted notification was confirmed through the API (the queue item, then the build), not taken from its payload.
    expect(jenkins.calls("build").length + jenkins.calls("queueItem").length).toBeGreaterThan(readsBefore);
    expect(jenkins.notifications.map((n) => n.status)).toEqual([202, 202, 401, 403, 202, 202]);
    // Only the four accepted ones were enqueued (QUEUED, STARTED, COMPLETED, FINALIZED: four payloads, four deliveries).
    expect(h.logs.filter((l) => l.includes("Jenkins notification enqueued"))).toHaveLength(4);
    expect(jenkins.calls("buildWithParameters").filter((r) => r.user === "relay")).toHaveLength(1);
  }, 60_000);

  it("'Re-run failed' on the upstream's roll-up starts a new build with the same upstream parameters and a new OPENCI_RUN", async () => {
    const h = await startHarness({ map: githubMap(jenkins), repos: repos(), env: ENV });
    await h.send("create.tag");
    const first = await queued();
    jenkins.startBuild(first.id);
    jenkins.finishBuild(first.id, "FAILURE", { tests: TESTS });
    const failed = await completedCheck(h);
    await idle(h);

    await h.send("check_run.requested_action", (p) => {
      p.check_run.name = "openci";
      p.check_run.head_sha = COMMIT;
      p.requested_action.identifier = "rerun-failed";
      p.repository.full_name = UPSTREAM;
    });
    const second = await waitFor("a second build queued", () => jenkins.queue.find((q) => q.job === JOB && q.id !== first.id), 20_000);
    jenkins.startBuild(second.id);
    jenkins.finishBuild(second.id, "SUCCESS", { tests: [] });
    // A re-run is a new generation: a new check run on the commit, the failed one left as it was.
    const passed = await waitFor("the re-run's check passed", () => downstreamChecks(h.github).find((c) => c.name === CHECK && c.conclusion === "success"), 20_000);
    await idle(h);

    const params = (item: typeof first) => Object.fromEntries(item.parameters.map((p) => [p.name, p.value]));
    const { OPENCI_RUN: firstRun, ...firstRest } = params(first);
    const { OPENCI_RUN: secondRun, ...secondRest } = params(second);
    expect(secondRest).toEqual(firstRest);
    expect(secondRest).toMatchObject({ OPENCI_UPSTREAM: "hello", OPENCI_TAG: "simple-tag", OPENCI_SHA: COMMIT });
    expect(secondRun).not.toBe(firstRun);
    expect([failed.external_id, passed.external_id]).toEqual([firstRun, secondRun]);
    expect(jenkins.calls("buildWithParameters")).toHaveLength(2);
    expect(jenkins.builds).toHaveLength(2);
  }, 60_000);

  it("a queue item Jenkins forgot still correlates: the build is found by its queueId and its result reported", async () => {
    const h = await startHarness({ map: githubMap(jenkins), repos: repos(), env: ENV });
    await h.send("create.tag");
    const item = await queued();
    await runningCheck(h, CHECK);
    const build = jenkins.startBuild(item.id);
    await waitFor("the check showing the build running", () => functestCheck(h)?.details_url === buildUrl(build.number), 20_000);
    // Five minutes after the item left the queue, Jenkins answers 404 for it.
    jenkins.forgetQueueItem(item.id);
    const forgottenAt = jenkins.requests.length;
    jenkins.finishBuild(item.id, "FAILURE", { tests: TESTS });
    const done = await completedCheck(h);
    await idle(h);

    expect(done).toMatchObject({ conclusion: "failure", details_url: buildUrl(build.number) });
    expect(done.output.summary).toContain(`**Failing jobs:**\n- ${FAILING[0]}\n- ${FAILING[1]}`);
    const after = jenkins.requests.slice(forgottenAt);
    // The queue item answered 404, and the relay looked among the job's builds for its queueId.
    expect(after.some((r) => r.route === "queueItem" && r.status === 404)).toBe(true);
    expect(after.some((r) => r.route === "job" && r.status === 200 && /queueId/.test(r.query.tree?.[0] ?? ""))).toBe(true);
    expect(jenkins.calls("buildWithParameters")).toHaveLength(1);
    await releaseWhen(h, "hello", "simple-tag", { functest: "failed" });
  }, 60_000);

  it("a build request whose answer was lost (Jenkins queued it, the connection was cut): the retry finds the build by OPENCI_RUN; one build only", async () => {
    const h = await startHarness({ map: githubMap(jenkins), repos: repos(), env: ENV });
    jenkins.loseResponse("buildWithParameters");
    await h.send("create.tag");
    const triggered = await runningCheck(h, CHECK);
    const item = jenkins.queue[0]!;
    const build = jenkins.startBuild(item.id);
    jenkins.finishBuild(item.id, "SUCCESS");
    const done = await completedCheck(h);
    await idle(h);

    expect(jenkins.calls("buildWithParameters").map((r) => r.status)).toEqual([-1]);
    // The retry looked in the queue (the item still waited there) instead of asking for another build.
    expect(jenkins.calls("queue").length).toBeGreaterThanOrEqual(1);
    expect(jenkins.queue).toHaveLength(1);
    expect(jenkins.builds).toHaveLength(1);
    expect(item.parameters.find((p) => p.name === "OPENCI_RUN")!.value).toBe(triggered.external_id);
    expect(done).toMatchObject({ conclusion: "success", details_url: buildUrl(build.number) });
    expect(h.logs.some((l) => l.includes("an earlier attempt had started the downstream run"))).toBe(true);
  }, 60_000);
});

/** Someone starts a build of another job on the same Jenkins (through its API, as a person's script would), and it starts. */
async function startOtherJobBuild(j: FakeJenkins): Promise<number> {
  const res = await fetch(`${j.url}/job/csit/job/vpp/buildWithParameters`, {
    method: "POST", headers: { Authorization: `Basic ${Buffer.from(`someone:${OTHER_TOKEN}`).toString("base64")}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ OPENCI_TAG: "manual" }).toString(),
  });
  if (res.status !== 201) throw new Error(`the other job's build: ${res.status}`);
  const id = Number(/\/queue\/item\/(\d+)\/$/.exec(res.headers.get("location") ?? "")![1]);
  j.startBuild(id);
  return id;
}
