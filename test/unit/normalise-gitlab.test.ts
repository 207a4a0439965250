import { describe, expect, it } from "@jest/globals";
import { normaliseGitlab } from "../../src/events/gitlab.js";
import { PayloadError } from "../../src/events/parse-payload.js";
import { commitStateOf } from "../../src/forge/gitlab-status.js";
import { gitlabFixture } from "../helpers/gitlab-deliveries.js";

const now = new Date("2026-11-22T10:00:00Z");
const deliver = (event: string, body: unknown, host?: string) => normaliseGitlab({ event, body, deliveryId: "d-1", host }, now);

describe("normaliseGitlab", () => {
  it("turns the documented Tag Push Hook into a tag event at its checkout_sha", () => {
    const { body } = gitlabFixture("tag_push");

    expect(deliver("Tag Push Hook", body)).toEqual([{
      name: "tag",
      data: {
        forge: "gitlab", repo: "jsmith/example", tag: "v1.0.0", sha: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
        source: "tag_push", deliveryId: "d-1", receivedAt: now.toISOString(),
      },
    }]);
    expect(deliver("Tag Push Hook", body, "gitlab.example.org")[0]!.data).toMatchObject({ host: "gitlab.example.org" });
  });

  it("ignores a tag deletion (after is all zeros)", () => {
    const { body } = gitlabFixture("tag_push");
    Object.assign(body, { before: body.after, after: "0".repeat(40), checkout_sha: null });

    expect(deliver("Tag Push Hook", body)).toEqual([]);
  });

  it("turns a pipeline into its run; a tag's pipeline whose own jobs ended also into a `pipeline` check", () => {
    const { body } = gitlabFixture("pipeline"); // a branch pipeline, one job still `created`
    const branch = deliver("Pipeline Hook", body);
    body.object_attributes.tag = true;
    const jobStillWaiting = deliver("Pipeline Hook", body);
    body.builds.find((b: { name: string }) => b.name === "staging").status = "success";
    const oneFailed = deliver("Pipeline Hook", body);
    body.builds.find((b: { name: string }) => b.name === "test-build").status = "success";
    body.builds.push({ name: "openci: downstream", status: "running" }); // the relay's own status
    body.object_attributes.status = "running";
    const passed = deliver("Pipeline Hook", body);

    expect(branch.map((w) => w.name)).toEqual(["run"]);
    expect(branch[0]!.data).toMatchObject({ repo: "gitlab-org/gitlab-test", runId: "31", state: "completed", conclusion: "success", startedAt: "2016-08-12T15:23:28.000Z" });
    expect(jobStillWaiting.map((w) => w.name)).toEqual(["run"]);
    expect(oneFailed[1]!.data).toMatchObject({ name: "pipeline", sha: "bcbb5ec396a2c0f828686f14fac9b80b780504f2", conclusion: "failure" });
    expect(passed[1]!.data).toMatchObject({ name: "pipeline", conclusion: "success" });
  });

  it("turns a finished job into a check named after it, and ignores one still running", () => {
    const { body } = gitlabFixture("job"); // a branch's job
    body.build_status = "failed";
    const branch = deliver("Job Hook", body);
    body.build_status = "created";
    body.tag = true;
    const created = deliver("Job Hook", body);
    body.build_status = "failed";

    expect(branch).toEqual([]);
    expect(created).toEqual([]);
    expect(deliver("Job Hook", body)).toEqual([{
      name: "check",
      data: { forge: "gitlab", repo: "gitlab-org/gitlab-test", sha: "2293ada6b400935a1378653304eaf6221e0fdb8f", name: "test", conclusion: "failure", ref: "gitlab-script-trigger", deliveryId: "d-1" },
    }]);
  });

  it("rejects path tricks and unknown statuses with the field named", () => {
    const tag = gitlabFixture("tag_push").body;
    tag.project.path_with_namespace = "../../admin";
    const pipeline = gitlabFixture("pipeline").body;
    pipeline.object_attributes.status = "exploded";

    expect(() => deliver("Tag Push Hook", tag)).toThrow(PayloadError);
    expect(() => deliver("Tag Push Hook", tag)).toThrow(/project\.path_with_namespace/);
    expect(() => deliver("Pipeline Hook", pipeline)).toThrow(/object_attributes\.status/);
    expect(deliver("Merge Request Hook", {})).toEqual([]);
  });
});

describe("commitStateOf", () => {
  it("maps every upstream state to a commit status GitLab accepts", () => {
    expect(commitStateOf("queued", undefined)).toBe("pending");
    expect(commitStateOf("in_progress", undefined)).toBe("running");
    expect(["success", "neutral", "skipped", "cancelled", "failure", "timed_out", "action_required"].map((c) => commitStateOf("completed", c as never)))
      .toEqual(["success", "success", "skipped", "canceled", "failed", "failed", "failed"]);
  });
});
