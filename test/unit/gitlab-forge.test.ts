import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ForgeError } from "../../src/forge/errors.js";
import { GitlabForge } from "../../src/forge/gitlab.js";
import type { StatusReport } from "../../src/forge/roles.js";
import { parseMap } from "../../src/map/load.js";
import { FakeGitlab } from "../fakes/gitlab/fake-gitlab.js";

const TOKEN = "glpat-unit";
const SHA = "a".repeat(40);
let gitlab: FakeGitlab;
beforeAll(async () => {
  gitlab = await FakeGitlab.start({ token: TOKEN, projects: ["group/lib"] });
});
afterAll(async () => {
  expect(gitlab.problems).toEqual([]);
  await gitlab.stop();
});

const forge = (o: { host?: string; tokenEnv?: string } = {}) => new GitlabForge({ url: gitlab.url, token: TOKEN, env: { OTHER: "glpat-other" }, ...o });
const report = (status: StatusReport["status"], conclusion?: StatusReport["conclusion"]): StatusReport => ({
  name: "openci: x", status, conclusion, title: status, summary: "", detailsUrl: undefined, externalId: "trigger-1",
});
const target = { repo: "group/lib", sha: SHA, ref: "v1" };

describe("GitlabForge commit statuses", () => {
  it("does not send a state the status already has, and sends the next one", async () => {
    const f = forge();
    const first = await f.reportStatus(target, report("queued"), undefined);
    const again = await f.reportStatus(target, report("queued"), first);
    const running = await f.reportStatus(target, report("in_progress"), again);

    expect(first).toMatch(/^\d+:pending$/);
    expect(again).toBe(first);
    expect(running).toBe(`${first.split(":")[0]}:running`);
    expect(gitlab.calls("set_commit_status").map((c) => c.params.state)).toEqual(["pending", "running"]);
  });

  it("reports a transition GitLab refuses (running → skipped) instead of taking it as done", async () => {
    const f = forge();
    const t = { ...target, sha: "b".repeat(40) };
    const running = await f.reportStatus(t, report("in_progress"), undefined);

    await expect(f.reportStatus(t, report("completed", "skipped"), running)).rejects.toThrow(/Cannot transition status via :skipped from :running/);
  });

  it("never sends GITLAB_TOKEN to another host: the map must name that host's token variable", async () => {
    const before = gitlab.requests.length;
    const error = await forge({ host: "gitlab.example.org" }).reportStatus(target, report("queued"), undefined).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ForgeError);
    expect((error as ForgeError).hint).toContain("token_env");
    expect(gitlab.requests.length).toBe(before);
  });
});

describe("GitLab hosts in the map", () => {
  it("treats a project naming GITLAB_URL's own host as on the default host, as its webhooks are", () => {
    const map = parseMap("projects:\n  - id: lib\n    gitlab: { host: GitLab.com, project: group/lib, token_env: T }\n", "map.yml", { gitlabHost: "gitlab.com" });

    expect(map.projectsAt({ forge: "gitlab", project: "group/lib" }).map((p) => p.id)).toEqual(["lib"]);
  });
});

describe("GitlabForge: the pipeline an interrupted trigger started", () => {
  it("is found among the ref's recent pipelines by its OPENCI_RUN variable, and no other trigger's pipeline is taken for it", async () => {
    const map = parseMap("projects:\n  - id: lib\n    gitlab: group/lib\n    trigger: { ref: main }\n", "map.yml", { gitlabHost: new URL(gitlab.url).host });
    const lib = map.project("lib")!;
    const ctx = (runId: string) => ({ upstreamId: "up", upstreamRepo: "org/up", tag: "v1", sha: SHA, runId });
    const since = new Date();
    const started = await forge().triggerPipeline(lib, ctx("trigger-aaaa"));
    await forge().triggerPipeline(lib, ctx("trigger-bbbb"));

    const found = await forge().findTriggered(lib, ctx("trigger-aaaa"), since);
    const none = await forge().findTriggered(lib, ctx("trigger-cccc"), since);

    expect(found).toEqual(started);
    expect(none).toBeUndefined();
    expect(gitlab.calls("get_pipeline_variables").length).toBeGreaterThanOrEqual(2);
  });
});
