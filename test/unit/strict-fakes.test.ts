import { createSign } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { FakeGithub, sharedValidator } from "../fakes/github/fake-github.js";
import { checkAgainstExample } from "../fakes/gitlab/examples.js";
import { FakeGitlab } from "../fakes/gitlab/fake-gitlab.js";
import { appPrivateKey } from "../helpers/keys.js";

/**
 * The fakes are only worth what they refuse. These tests send the fakes what the relay must never
 * send (a misspelt key, a wrong type) and check that it becomes a problem, and walk every route the
 * fake GitHub answers to check that its own answers conform to GitHub's description.
 */
const APP_ID = 77;
const SHA = "c".repeat(40);
const OWNER = "acme";

function appJwt(): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iat: now - 30, exp: now + 300, iss: APP_ID })}`;
  return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(appPrivateKey()).toString("base64url")}`;
}

describe("the fake GitHub", () => {
  let github: FakeGithub;
  let token: string;
  const call = async (method: string, path: string, body?: unknown, auth = `token ${token}`) => {
    const res = await fetch(`http://${github.host}/api/v3${path}`, {
      method, headers: { authorization: auth, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === "" ? undefined : (JSON.parse(text) as any) };
  };

  beforeAll(async () => {
    github = await FakeGithub.start({
      appId: APP_ID, privateKey: appPrivateKey(),
      repos: {
        [`${OWNER}/app`]: {
          installationId: 5, workflows: { "ci.yml": {} }, tags: { "v1.0": { type: "tag", sha: "d".repeat(40) } },
          tagObjects: { ["d".repeat(40)]: { type: "commit", sha: SHA } }, pulls: { [SHA]: [{ number: 3, merged: true }, { number: 4, merged: false, fork: true }] },
          contents: { main: { sha: SHA, files: { "maps/a.yml": "projects: []\n" } } },
          suites: { [SHA]: [{ appId: APP_ID, status: "completed", conclusion: "success" }, { appId: 15368, status: "in_progress", conclusion: null, runs: 2 }] },
        },
      },
    });
    token = (await call("POST", "/app/installations/5/access_tokens", undefined, `bearer ${appJwt()}`)).body.token;
  });
  afterEach(() => {
    github.problems.length = 0;
  });
  afterAll(async () => {
    await github.stop();
  });

  it.each([
    ["detials_url", { name: "openci: x", head_sha: SHA, detials_url: "https://relay.example/runs/1" }, "'detials_url' is not a property the description lists"],
    ["outptu", { name: "openci: x", head_sha: SHA, outptu: { title: "t", summary: "s" } }, "'outptu' is not a property the description lists"],
    ["output.sumary", { name: "openci: x", head_sha: SHA, output: { title: "t", summary: "s", sumary: "s" } }, "body/output: 'sumary' is not a property the description lists"],
  ])("refuses a check run with a misspelt key (%s) and records it as a problem", async (_key, body, problem) => {
    const res = await call("POST", `/repos/${OWNER}/app/check-runs`, body);

    expect(res.status).toBe(422);
    expect(github.problems).toEqual([`POST /repos/${OWNER}/app/check-runs: body${problem.startsWith("body/") ? problem.slice(4) : `: ${problem}`}`]);
    expect(github.checkRuns).toHaveLength(0);
  });

  it("closes only what no branch of a composition lists: a completed update passes, an unknown key beside it does not", async () => {
    const created = await call("POST", `/repos/${OWNER}/app/check-runs`, { name: "openci: y", head_sha: SHA, status: "queued", external_id: "e", output: { title: "t", summary: "s" } });

    const completed = await call("PATCH", `/repos/${OWNER}/app/check-runs/${created.body.id}`, { status: "completed", conclusion: "success", details_url: "https://relay.example/x" });
    const misspelt = await call("PATCH", `/repos/${OWNER}/app/check-runs/${created.body.id}`, { status: "completed", conclusion: "success", conclsuion: "failure" });

    expect(created.status).toBe(201);
    expect(completed.status).toBe(200);
    expect(misspelt.status).toBe(422);
    expect(github.problems).toEqual([`PATCH /repos/${OWNER}/app/check-runs/${created.body.id}: body: 'conclsuion' is not a property the description lists`]);
  });

  it("keeps open what the description leaves open: a workflow's inputs are the workflow's own", async () => {
    const res = await call("POST", `/repos/${OWNER}/app/actions/workflows/ci.yml/dispatches`, { ref: "main", inputs: { anything_goes: "yes" }, return_run_details: true });

    expect(res.status).toBe(200);
    expect(github.problems).toEqual([]);
  });

  it("refuses a GraphQL query GitHub's published schema does not validate (a misspelt field) and records it", async () => {
    const query = `{ repository(owner: "${OWNER}", name: "app") { refs(refPrefix: "refs/tags/", first: 5) { nodes { nmae } } } rateLimit { cost } }`;

    const res = await fetch(`http://${github.host}/api/graphql`, { method: "POST", headers: { authorization: `token ${token}`, "content-type": "application/json" }, body: JSON.stringify({ query }) });
    const body = (await res.json()) as { data?: unknown; errors: { message: string }[] };

    expect(res.status).toBe(200);
    expect(body.data).toBeUndefined();
    expect(body.errors.map((e) => e.message)).toEqual(['Cannot query field "nmae" on type "Ref". Did you mean "name"?']);
    expect(github.problems).toEqual([`POST /graphql: the query does not validate against GitHub's schema: Cannot query field "nmae" on type "Ref". Did you mean "name"?`]);
    expect(github.graphql.spent(5)).toBe(0);
  });

  /** Every route the fake answers, with the state above; each answer must conform to the description. */
  const walk: [string, string, unknown?][] = [
    ["GET", "/app"],
    ["GET", `/repos/${OWNER}/app/installation`],
    ["GET", `/repos/${OWNER}/app`],
    ["GET", `/repos/${OWNER}/app/contents/maps%2Fa.yml?ref=main`],
    ["GET", `/repos/${OWNER}/app/commits/main`],
    ["GET", `/repos/${OWNER}/app/commits/nope`],
    ["GET", `/repos/${OWNER}/app/git/trees/tree-${SHA}?recursive=1`],
    ["GET", `/repos/${OWNER}/app/git/ref/tags%2Fv1.0`],
    ["GET", `/repos/${OWNER}/app/git/tags/${"d".repeat(40)}`],
    ["GET", `/repos/${OWNER}/app/tags`],
    ["POST", `/repos/${OWNER}/app/actions/workflows/ci.yml/dispatches`, { ref: "main", inputs: { openci_run_id: "r1" }, return_run_details: true }],
    ["POST", `/repos/${OWNER}/app/actions/workflows/ci.yml/dispatches`, { ref: "main" }],
    ["POST", `/repos/${OWNER}/app/actions/workflows/ci.yml/dispatches`, { ref: "no-such-branch" }],
    ["POST", `/repos/${OWNER}/app/dispatches`, { event_type: "openci", client_payload: { a: 1 } }],
    ["GET", `/repos/${OWNER}/app/actions/workflows/ci.yml/runs?event=workflow_dispatch`],
    ["GET", `/repos/${OWNER}/app/actions/runs?per_page=5`],
    ["GET", `/repos/${OWNER}/app/actions/runs/1/jobs`],
    ["GET", `/repos/${OWNER}/app/actions/runs/1/artifacts`],
    ["GET", `/repos/${OWNER}/app/check-suites/7/check-runs`],
    ["GET", `/repos/${OWNER}/app/commits/${SHA}/check-suites`],
    ["GET", `/repos/${OWNER}/app/commits/${SHA}/pulls`],
    ["POST", `/repos/${OWNER}/app/issues/3/comments`, { body: "hello" }],
    ["GET", `/repos/${OWNER}/app/issues/3/comments`],
    ["POST", `/repos/${OWNER}/app/commits/${SHA}/comments`, { body: "hello" }],
    ["GET", `/repos/${OWNER}/app/commits/${SHA}/comments`],
    ["PATCH", `/repos/${OWNER}/app/issues/comments/999999`, { body: "edited" }],
    ["POST", `/repos/${OWNER}/app/check-runs`, { name: "openci: z", head_sha: SHA, status: "in_progress", external_id: "z", details_url: "https://relay.example/z", output: { title: "t", summary: "s" } }],
    ["GET", `/repos/${OWNER}/app/commits/${SHA}/check-runs?check_name=openci%3A%20z&filter=latest`],
    ["PATCH", `/repos/${OWNER}/app/check-runs/424242`, { status: "queued" }],
    ["GET", "/app/hook/deliveries?per_page=2"],
  ];

  it("answers every route it fakes as the description says it answers", async () => {
    github.suiteRuns[7] = [{ name: "build", external_id: "", title: "openci r1" }];
    github.runJobs[1] = [{ name: "build", conclusion: "failure" }, { name: "lint", conclusion: null }];
    github.runArtifacts[1] = [{ name: "logs", size: 10 }];
    github.plantComment(`${OWNER}/app`, "pr-3", "a stranger's comment");
    github.logDelivery("guid-1", "push", {}, 202);
    github.logDelivery("guid-2", "create", {}, 503);
    const statuses: number[] = [];

    for (const [method, path, body] of walk) statuses.push((await call(method, path, body, path.startsWith("/app") || path.endsWith("/installation") ? `bearer ${appJwt()}` : undefined)).status);
    const edited = await call("PATCH", `/repos/${OWNER}/app/issues/comments/${github.comments.at(-1)!.id - 1}`, { body: "edited" });

    expect(github.problems).toEqual([]);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 422, 200, 200, 200, 200, 200, 204, 422, 204, 200, 200, 200, 200, 200, 200, 200, 201, 200, 201, 200, 404, 201, 200, 404, 200]);
    expect(edited.status).toBe(200);
  });

  it("records a problem when its own answer does not conform (the fake's bugs fail too)", () => {
    const v = sharedValidator();

    const missing = v.validateResponse("checks/create", 201, { id: 1, name: "x" });
    const extra = v.validateResponse("git/get-ref", 200, { ref: "refs/tags/v1", node_id: "x", url: "https://example.invalid", object: { type: "commit", sha: SHA, url: "https://example.invalid" }, sha: SHA });
    const status = v.validateResponse("checks/update", 204, undefined);
    const error = v.validateResponse("repos/get-commit", 422, { message: "No commit found" });

    expect(missing).toContain("answer 201 to checks/create must have required property 'head_sha'");
    expect(extra).toEqual(["answer 200 to git/get-ref: 'sha' is not a property the description lists"]);
    expect(status).toEqual(["answer 204 to checks/update: 204 is not a status the description lists for it"]);
    expect(error).toEqual(["answer 422 to repos/get-commit must have required property 'documentation_url'"]);
  });
});

describe("the fake GitLab", () => {
  let gitlab: FakeGitlab;
  const TOKEN = "glpat-strict";
  const send = async (method: string, path: string, o: { json?: unknown; query?: string } = {}) => {
    const res = await fetch(`${gitlab.url}/api/v4${path}${o.query ? `?${o.query}` : ""}`, {
      method, headers: { "private-token": TOKEN, ...(o.json === undefined ? {} : { "content-type": "application/json" }) },
      body: o.json === undefined ? undefined : JSON.stringify(o.json),
    });
    await res.body?.cancel();
    return res.status;
  };

  beforeAll(async () => {
    gitlab = await FakeGitlab.start({
      token: TOKEN, projects: ["group/lib"], tags: { "group/lib": { "v1.0": SHA } },
      contents: { "group/lib": { main: { sha: SHA, files: { "maps/a.yml": "projects: []\n" } } } },
    });
    gitlab.mergeRequests.push({ project: "group/lib", iid: 4, state: "merged", shas: [SHA], notes: [] });
  });
  afterEach(() => {
    gitlab.problems.length = 0;
  });
  afterAll(async () => {
    await gitlab.stop();
  });

  it("accepts a commit status as documented", async () => {
    const status = await send("POST", `/projects/group%2Flib/statuses/${SHA}`, { json: { state: "running", name: "openci: x", target_url: "https://relay.example", description: "d", pipeline_id: 12 } });

    expect(status).toBe(201);
    expect(gitlab.problems).toEqual([]);
  });

  it.each([
    ["an integer as a string in JSON", { state: "pending", name: "a", pipeline_id: "12" }, "'pipeline_id' must be an integer, got \"12\""],
    ["a number for a string", { state: "pending", name: 5 }, "'name' must be a string, got 5"],
    ["a hash for a string", { state: "pending", name: "b", description: { text: "x" } }, "'description' must be a string, got {\"text\":\"x\"}"],
    ["a state GitLab does not know", { state: "passed", name: "c" }, "'state' must be one of pending, running, success, failed, canceled, skipped, got \"passed\""],
    ["an unknown attribute", { state: "pending", name: "d", targt_url: "https://relay.example" }, "'targt_url' is not a documented parameter"],
  ])("records %s as a problem", async (_what, json, problem) => {
    await send("POST", `/projects/group%2Flib/statuses/${SHA}`, { json });

    expect(gitlab.problems).toEqual([`POST /projects/group%2Flib/statuses/${SHA}: ${problem}`]);
  });

  it.each([
    ["a query value that is no date", "/projects/group%2Flib/pipelines", "updated_after=yesterday", "'updated_after' must be an ISO 8601 date and time, got \"yesterday\""],
    ["a non-boolean query value", "/projects/group%2Flib/pipelines", "yaml_errors=maybe", "'yaml_errors' must be a boolean, got \"maybe\""],
    ["a non-integer path segment", "/projects/group%2Flib/pipelines/abc", "", "'pipeline_id' must be an integer, got \"abc\""],
  ])("checks values sent as text by type: %s", async (_what, path, query, problem) => {
    await send("GET", path, { query });

    expect(gitlab.problems).toEqual([`GET ${path}: ${problem}`]);
  });

  /** Every route the fake answers; each answer must be in the doc's example's shape. */
  const walk: [string, string, { json?: unknown; query?: string }?][] = [
    ["GET", "/user"],
    ["GET", "/projects/group%2Flib"],
    ["POST", "/projects/group%2Flib/pipeline", { json: { ref: "main", variables: [{ key: "OPENCI_RUN", value: "r1", variable_type: "env_var" }] } }],
    ["GET", "/projects/group%2Flib/pipelines/:pipeline"],
    ["GET", "/projects/group%2Flib/pipelines", { query: "ref=main&order_by=id&sort=desc&per_page=20" }],
    ["GET", "/projects/group%2Flib/pipelines/:pipeline/variables"],
    ["GET", "/projects/group%2Flib/pipelines/:pipeline/jobs", { query: "scope[]=failed" }],
    ["POST", "/projects/group%2Flib/pipelines/:pipeline/retry"],
    ["GET", "/projects/group%2Flib/repository/tags"],
    ["GET", "/projects/group%2Flib/repository/tags/v1.0"],
    ["GET", "/projects/group%2Flib/repository/commits/main"],
    ["GET", "/projects/group%2Flib/repository/tree", { query: "ref=main&recursive=true&per_page=100" }],
    ["POST", `/projects/group%2Flib/statuses/${SHA}`, { json: { state: "pending", name: "openci: walk", ref: "v1.0", target_url: "https://relay.example", description: "queued" } }],
    ["GET", `/projects/group%2Flib/repository/commits/${SHA}/statuses`, { query: "name=openci%3A%20walk" }],
    ["GET", `/projects/group%2Flib/repository/commits/${SHA}/merge_requests`],
    ["POST", "/projects/group%2Flib/merge_requests/4/notes", { json: { body: "hello" } }],
    ["GET", "/projects/group%2Flib/merge_requests/4/notes", { query: "per_page=100" }],
    ["POST", `/projects/group%2Flib/repository/commits/${SHA}/discussions`, { json: { body: "hello" } }],
    ["GET", `/projects/group%2Flib/repository/commits/${SHA}/discussions`, { query: "per_page=100" }],
  ];

  it("answers every route it fakes in the shape of the doc's example", async () => {
    gitlab.pipelines.length = 0;
    const statuses: number[] = [];

    for (const [method, path, o] of walk) statuses.push(await send(method, path.replace(":pipeline", String(gitlab.pipelines[0]?.id)), o));
    const note = gitlab.mergeRequests[0]!.notes[0]!.id;
    const thread = gitlab.threads[0]!;
    gitlab.pipelines[0]!.jobs.push({ name: "build", status: "failed", artifacts: "logs.zip" }, { name: "lint", status: "success" });
    const more = [
      await send("GET", `/projects/group%2Flib/pipelines/${gitlab.pipelines[0]!.id}/jobs`, { query: "per_page=100" }),
      await send("PUT", `/projects/group%2Flib/merge_requests/4/notes/${note}`, { json: { body: "edited" } }),
      await send("PUT", `/projects/group%2Flib/repository/commits/${SHA}/discussions/${thread.id}/notes/${thread.notes[0]!.id}`, { json: { body: "edited" } }),
    ];

    expect(gitlab.problems).toEqual([]);
    expect(statuses).toEqual([200, 200, 201, 200, 200, 200, 200, 201, 200, 200, 200, 200, 201, 200, 200, 201, 200, 201, 200]);
    expect(more).toEqual([200, 200, 200]);
  });

  it("detects an answer of its own that is not in the doc's example's shape", () => {
    const example = { id: 1, status: "pending", user: { id: 2, name: "a" }, jobs: [{ id: 3 }], finished_at: null };

    const problems = checkAgainstExample(example, { id: "1", status: "pending", user: { id: 2, nick: "a" }, jobs: [{ id: 3 }, { id: 4, stage: "x" }], finished_at: "2026-01-01" });

    expect(problems).toEqual([
      "answer.id is a string, the doc's example has a number",
      "answer.user.nick is not in the doc's example",
      "answer.jobs[1].stage is not in the doc's example",
    ]);
  });

  it("checks the keys and types inside documented hashes and arrays of hashes", async () => {
    const variables = [{ key: "A", value: "1" }, { key: "B", valeu: "2" }, { key: "C", value: 3 }, { key: "D", value: "x", variable_type: "secret" }, "E=1"];

    await send("POST", "/projects/group%2Flib/pipeline", { json: { ref: "main", variables } });
    await send("POST", `/projects/group%2Flib/repository/commits/${SHA}/discussions`, { json: { body: "b", position: { base_sha: SHA, head_sha: SHA, start_sha: SHA, position_type: "text", new_lien: 3 } } });

    expect(gitlab.problems).toEqual([
      "POST /projects/group%2Flib/pipeline: 'variables[1][valeu]' is not a documented parameter",
      "POST /projects/group%2Flib/pipeline: 'variables[2][value]' must be a string, got 3",
      "POST /projects/group%2Flib/pipeline: 'variables[3][variable_type]' must be one of env_var, file, got \"secret\"",
      "POST /projects/group%2Flib/pipeline: 'variables[4]' must be a hash, got \"E=1\"",
      `POST /projects/group%2Flib/repository/commits/${SHA}/discussions: 'position[new_lien]' is not a documented parameter`,
    ]);
  });
});
