import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { jenkinsRunEvent } from "../../src/events/jenkins.js";
import { PayloadError } from "../../src/events/parse-payload.js";
import { JenkinsRunner } from "../../src/forge/jenkins.js";
import { jobOfUrlPath, jobPathOf } from "../../src/forge/jenkins-status.js";
import type { Project } from "../../src/map/graph.js";
import { FakeJenkins, type JenkinsResult, type NotificationPhase } from "../fakes/jenkins/fake-jenkins.js";
import { useLoopbackServers } from "../helpers/loopback-server.js";

/**
 * The Notification plugin's documented example (plugins.jenkins.io/notification, from
 * jenkins-infra/plugins-wiki-docs notification/README.md), as published: it predates `queue_id`
 * (BuildState has it since plugin 1.10, 2015).
 */
const DOCUMENTED_EXAMPLE = {
  name: "asgard",
  url: "job/asgard/",
  build: {
    full_url: "http://localhost:8080/job/asgard/18/",
    number: 18,
    phase: "COMPLETED",
    status: "SUCCESS",
    url: "job/asgard/18/",
    scm: { url: "https://github.com/evgeny-goldin/asgard.git", branch: "origin/master", commit: "c6d86dc654b12425e706bcf951adfe5a8627a517" },
    artifacts: {
      "asgard.war": { archive: "http://localhost:8080/job/asgard/18/artifact/asgard.war" },
      "asgard-standalone.jar": {
        archive: "http://localhost:8080/job/asgard/18/artifact/asgard-standalone.jar",
        s3: "https://s3-eu-west-1.amazonaws.com/evgenyg-bakery/asgard/asgard-standalone.jar",
      },
    },
  },
};

const TOKEN = `11${"c3".repeat(16)}`;
const JOB = "functest/kata-containers";
const DECLARED = ["OPENCI_UPSTREAM", "OPENCI_UPSTREAM_REPO", "OPENCI_TAG", "OPENCI_SHA", "OPENCI_RUN"];

let jenkins: FakeJenkins;
beforeAll(async () => {
  jenkins = await FakeJenkins.start({ contextPath: "/jenkins", users: [{ user: "relay", token: TOKEN }], jobs: { [JOB]: DECLARED } });
});
afterAll(async () => {
  await jenkins.stop();
  expect(jenkins.problems).toEqual([]);
});
const serve = useLoopbackServers();

const runner = () => new JenkinsRunner({ url: jenkins.url, auth: { user: "relay", token: TOKEN } });
const project: Project = {
  id: "kata", location: { forge: "github", repo: "kata-containers/kata-containers" }, report: undefined,
  trigger: { jenkins: { url: "http://jenkins.invalid", job: JOB, user_env: "JENKINS_USER", token_env: "JENKINS_TOKEN" } },
};
const newRunId = () => `trigger-${randomBytes(16).toString("hex")}`;
const queueId = (runId: string | undefined) => Number(/^queue:(\d+)$/.exec(runId ?? "")![1]);

/** A receiver on loopback: the plugin POSTs there, and the test normalises what arrived (the JSON text Jenkins sent). */
async function receiver(): Promise<{ url: string; bodies: unknown[]; types: string[] }> {
  const bodies: unknown[] = [];
  const types: string[] = [];
  const url = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      types.push(String(req.headers["content-type"]));
      bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200).end();
    });
  });
  return { url: `${url}/api/jenkins/notifications/s3cret`, bodies, types };
}

const rejection = (payload: unknown) => {
  try {
    jenkinsRunEvent(payload, "d-1");
  } catch (e) {
    expect(e).toBeInstanceOf(PayloadError);
    return (e as Error).message;
  }
  throw new Error("accepted");
};

describe("jenkinsRunEvent: the Notification plugin's payloads", () => {
  it("maps the documented example once it carries queue_id, and says which plugin version sends it when it does not", () => {
    expect(rejection(DOCUMENTED_EXAMPLE)).toContain("build.queue_id is missing (the Notification plugin sends it since 1.10");

    const event = jenkinsRunEvent({ ...DOCUMENTED_EXAMPLE, build: { ...DOCUMENTED_EXAMPLE.build, queue_id: 311 } }, "delivery-1");

    expect(event).toEqual({
      job: "asgard", runId: "queue:311", number: 18, state: "completed", conclusion: "success",
      webUrl: "http://localhost:8080/job/asgard/18/", deliveryId: "delivery-1",
    });
  });

  it("follows a build through every phase, with the run id the trigger returned and the trigger's relay run id", async () => {
    const relayRunId = newRunId();
    const started = await runner().triggerPipeline(project, { upstreamId: "nova", upstreamRepo: "openstack/nova", tag: "31.0.0", sha: "e".repeat(40), runId: relayRunId });
    const id = queueId(started.runId);
    const build = jenkins.startBuild(id);
    const to = await receiver();
    const send = (phase: NotificationPhase) => jenkins.notify(to.url, id, phase);
    await send("QUEUED");
    await send("STARTED");
    jenkins.finishBuild(id, "UNSTABLE");
    await send("COMPLETED");
    await send("FINALIZED");

    const events = to.bodies.map((b, i) => jenkinsRunEvent(b, `d-${i}`));

    expect(to.types).toEqual(Array(4).fill("application/json;charset=UTF-8"));
    const buildUrl = `${jenkins.url}/job/functest/job/kata-containers/${build.number}/`;
    const common = { job: JOB, runId: started.runId, relayRunId, number: build.number, webUrl: buildUrl };
    expect(events.map(({ updatedAt: _, deliveryId: __, ...e }) => e)).toEqual([
      { ...common, state: "queued" },
      { ...common, state: "in_progress" },
      { ...common, state: "completed", conclusion: "failure" },
      { ...common, state: "completed", conclusion: "failure" },
    ]);
    expect(events.map((e) => e.deliveryId)).toEqual(["d-0", "d-1", "d-2", "d-3"]);
    expect(events[1]!.updatedAt).toBe(new Date(build.timestamp).toISOString());
  });

  it.each<[JenkinsResult, string]>([
    ["SUCCESS", "success"], ["UNSTABLE", "failure"], ["FAILURE", "failure"], ["ABORTED", "cancelled"], ["NOT_BUILT", "skipped"],
  ])("maps a build that ended %s to %s", async (result, conclusion) => {
    const { runId } = await runner().triggerPipeline(project, { upstreamId: "nova", upstreamRepo: "openstack/nova", tag: "31.0.0", sha: "e".repeat(40), runId: newRunId() });
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), result);

    const event = jenkinsRunEvent(jenkins.notificationPayload(queueId(runId), "FINALIZED"), "d");

    expect(event).toMatchObject({ state: "completed", conclusion, runId });
  });

  it("names no relay run id when OPENCI_RUN is not one (a build started by hand)", async () => {
    const { runId } = await runner().triggerPipeline(project, { upstreamId: "nova", upstreamRepo: "openstack/nova", tag: "31.0.0", sha: "e".repeat(40), runId: "rebuild by alice" });
    jenkins.startBuild(queueId(runId));

    const event = jenkinsRunEvent(jenkins.notificationPayload(queueId(runId), "STARTED"), "d");

    expect(event.runId).toBe(runId);
    expect(event).not.toHaveProperty("relayRunId");
  });

  it("reads a job's full name from its URL path, its names percent-decoded, and refuses other paths", () => {
    const payload = (url: string, buildUrl: string) => ({ name: "x", url, build: { full_url: "https://ci.example.org/x/", number: 3, queue_id: 9, phase: "STARTED", url: buildUrl } });

    expect(jenkinsRunEvent(payload("job/my%20folder/job/smoke%2Btests/", "job/my%20folder/job/smoke%2Btests/3/"), "d").job).toBe("my folder/smoke+tests");
    expect(rejection(payload("view/all/", "job/a/3/"))).toContain("is not a job's");
    expect(rejection(payload("job/a/", "job/b/3/"))).toContain("is not build 3 of a");
    expect(rejection(payload("job/a/", "job/a/4/"))).toContain("is not build 3 of a");
    expect(rejection(payload("job/../job/a/", "job/a/3/"))).toContain("is not a job's");
    expect(jobOfUrlPath(jobPathOf("my folder/smoke+tests"))).toEqual({ job: "my folder/smoke+tests", number: undefined });
  });

  it("refuses what it cannot act on: no full_url (Jenkins' URL not configured), a COMPLETED build without a status, a result Jenkins has not, a phase the plugin has not", async () => {
    const { runId } = await runner().triggerPipeline(project, { upstreamId: "nova", upstreamRepo: "openstack/nova", tag: "31.0.0", sha: "e".repeat(40), runId: newRunId() });
    jenkins.startBuild(queueId(runId));
    jenkins.finishBuild(queueId(runId), "SUCCESS");
    const good = jenkins.notificationPayload(queueId(runId), "COMPLETED") as { build: Record<string, unknown> };
    const with_ = (build: Record<string, unknown>) => ({ ...good, build: { ...good.build, ...build } });
    const { full_url: _, ...noFullUrl } = good.build;
    const { status: __, ...noStatus } = good.build;

    expect(jenkinsRunEvent(good, "d")).toMatchObject({ state: "completed", conclusion: "success" });
    expect(rejection({ ...good, build: noFullUrl })).toContain("Jenkins Location");
    expect(rejection({ ...good, build: noStatus })).toContain("a COMPLETED build without a status");
    expect(rejection(with_({ status: "PARTIALLY_GREEN" }))).toContain("build.status");
    expect(rejection(with_({ phase: "DELETED" }))).toContain("build.phase");
    expect(rejection(with_({ full_url: "javascript:alert(1)" }))).toContain("build.full_url");
  });
});
