import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGitlab } from "../fakes/gitlab/fake-gitlab.js";
import { gitlabHooksCommand } from "../../src/cli/gitlab-hooks.js";
import { main } from "../../src/cli/main.js";

const TOKEN = "glpat-maintainer";
let gitlab: FakeGitlab | undefined;
afterEach(async () => {
  await gitlab?.stop();
});

async function run(args: Parameters<typeof gitlabHooksCommand>[0], env: NodeJS.ProcessEnv) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await gitlabHooksCommand(args, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join(""), err: err.join("") };
}

describe("openci-relay gitlab-hooks", () => {
  it("is a command of the CLI: its help, and its usage errors", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = [(s: string) => void out.push(s), (s: string) => void err.push(s)] as const;

    expect(await main(["--help"], {}, ...io)).toBe(0);
    expect(await main(["gitlab-hooks"], {}, ...io)).toBe(2);
    expect(await main(["gitlab-hooks", "extra"], {}, ...io)).toBe(2);
    expect(out.join("")).toContain("openci-relay gitlab-hooks --project GROUP/PROJECT");
    expect(err.join("")).toContain("give the project's path: --project group/project");
    expect(err.join("")).toContain("takes no arguments, only --project, --url and --reset-token");
  });

  it("creates the project's webhook to the relay once, then says it is unchanged", async () => {
    gitlab = await FakeGitlab.start({ token: TOKEN, projects: ["group/app"] });
    const env = { GITLAB_URL: gitlab.url, GITLAB_TOKEN: TOKEN, GITLAB_WEBHOOK_SECRET: "shared-secret", OPENCI_PUBLIC_URL: "https://relay.example.org" };

    const first = await run({ project: "group/app" }, env);
    const second = await run({ project: "group/app" }, env);

    expect(first).toMatchObject({ code: 0, err: "" });
    expect(first.out).toMatch(/^created: group\/app's webhook \d+ to https:\/\/relay\.example\.org\/api\/gitlab\/webhooks/);
    expect(gitlab.hooks).toEqual([expect.objectContaining({
      project: "group/app", url: "https://relay.example.org/api/gitlab/webhooks", token: "shared-secret", enable_ssl_verification: true,
      events: expect.objectContaining({ tag_push_events: true, pipeline_events: true, job_events: true, push_events: false }),
    })]);
    expect(second).toMatchObject({ code: 0, err: "" });
    expect(second.out).toMatch(/^unchanged: group\/app's webhook \d+ /);
    expect(gitlab.requests.map((r) => `${r.method} ${r.doc}`)).toEqual(["GET list_project_hooks", "POST add_project_hook", "GET list_project_hooks"]);
    expect(gitlab.problems).toEqual([]);
  });

  it("brings a stale hook up to date with the project's own secret from the map, and says what is missing otherwise", async () => {
    gitlab = await FakeGitlab.start({ token: TOKEN, projects: ["group/app"] });
    const dir = mkdtempSync(join(tmpdir(), "openci-hooks-"));
    writeFileSync(join(dir, "map.yml"), "projects:\n  - id: app\n    gitlab: { project: group/app, webhook_secret_env: APP_HOOK_SECRET }\n");
    const env = { GITLAB_URL: gitlab.url, GITLAB_TOKEN: TOKEN, OPENCI_MAP: join(dir, "map.yml"), APP_HOOK_SECRET: "app-own-secret" };
    const added = await fetch(`${gitlab.url}/api/v4/projects/group%2Fapp/hooks`, {
      method: "POST", headers: { "private-token": TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ url: "https://relay.example.org/api/gitlab/webhooks", tag_push_events: true }),
    });

    const updated = await run({ project: "group/app", url: "https://relay.example.org/" }, env);
    const noSecret = await run({ project: "group/app", url: "https://relay.example.org" }, { ...env, APP_HOOK_SECRET: "" });
    const noUrl = await run({ project: "group/app" }, env);

    expect(added.status).toBe(201);
    expect(updated.code).toBe(0);
    expect(updated.out).toMatch(/^updated: group\/app's webhook \d+ to https:\/\/relay\.example\.org\/api\/gitlab\/webhooks: pipeline_events on, job_events on, push_events off\n$/);
    expect(gitlab.hooks).toHaveLength(1);
    expect(gitlab.hooks[0]).toMatchObject({ token: "app-own-secret", events: expect.objectContaining({ pipeline_events: true, job_events: true, push_events: false }) });
    expect(noSecret).toMatchObject({ code: 1, out: "" });
    expect(noSecret.err).toContain("set APP_HOOK_SECRET");
    expect(noUrl).toMatchObject({ code: 2 });
    expect(noUrl.err).toContain("--url");
    expect(gitlab.problems).toEqual([]);
  });
});
