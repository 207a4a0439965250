import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks } from "../helpers/upstream.js";
import { jobCount } from "../helpers/queue-counts.js";
import { waitFor } from "../helpers/wait-for.js";
import { metric } from "../helpers/metrics.js";

const TAG_OBJECT = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on:
      - project: hello
        tags: "simple-*"
  - id: other/svc
    github: other/svc
    trigger: { event_type: upstream-release }
    depends_on:
      - project: hello
        tags: "*"
`;

const repos = () => ({
  [UPSTREAM]: upstreamRepo(),
  "acme/app": acmeAppRepo(),
  "other/svc": { installationId: 3 },
});

const startHarness = useHarness();
let h: Harness | undefined;

describe("a tag on GitHub triggers its dependants", () => {
  it("dispatches each dependant once for the create + push pair and shows check runs upstream", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    const triggeredBefore = await metric(h.url, "openci_triggers_total", { outcome: "triggered" });
    const timedBefore = await metric(h.url, "openci_tag_to_trigger_seconds_count");

    const created = await h.send("create.tag");
    const pushed = await h.send("push.tag");

    expect([created.status, pushed.status]).toEqual([200, 200]);
    await waitFor("two in-progress check runs", () =>
      downstreamChecks(h!.github).filter((c) => c.status === "in_progress").length === 2);
    await h.idle();
    const dispatch = h.github.calls("actions/create-workflow-dispatch");
    expect(dispatch).toHaveLength(1);
    expect(dispatch[0]).toMatchObject({
      installationId: 2,
      params: { owner: "acme", repo: "app", workflow_id: "ci.yml" },
      body: {
        ref: "main",
        return_run_details: true,
        inputs: { openci_upstream: "hello", openci_upstream_repo: UPSTREAM, openci_tag: "simple-tag", openci_sha: COMMIT },
      },
    });
    const repoDispatch = h.github.calls("repos/create-dispatch-event");
    expect(repoDispatch).toHaveLength(1);
    expect(repoDispatch[0]).toMatchObject({
      installationId: 3,
      body: { event_type: "upstream-release", client_payload: { openci_tag: "simple-tag", openci_sha: COMMIT } },
    });
    expect(downstreamChecks(h.github).map((c) => [c.repo, c.head_sha, c.name]).sort()).toEqual([
      [UPSTREAM, COMMIT, "openci: acme/app"],
      [UPSTREAM, COMMIT, "openci: other/svc"],
    ]);
    const app = downstreamChecks(h.github).find((c) => c.name === "openci: acme/app")!;
    expect(app.details_url).toMatch(/\/acme\/app\/actions\/runs\/\d+$/);
    expect(app.external_id).toBe(dispatch[0]!.body.inputs.openci_run_id);
    // each trigger counted once, and the time from the tag's delivery to its first attempt observed
    expect(await metric(h.url, "openci_triggers_total", { outcome: "triggered" })).toBe(triggeredBefore + 2);
    expect(await metric(h.url, "openci_tag_to_trigger_seconds_count")).toBe(timedBefore + 2);
  });
});

describe("the upstream's checks settle before they are written (OPENCI_REPORT_SETTLE_MS)", () => {
  it("a dependant dispatched within the settle time has its check written once, already dispatched, and the roll-up once", async () => {
    // Long enough for both dispatches to fall within it on a loaded machine (they take well under a
    // second). That the pushes join is asserted in-process (report-store-publish-mutants); here,
    // what GitHub sees: each check created once, already dispatched, and never updated.
    h = await startHarness({ map: MAP, repos: repos(), env: { OPENCI_REPORT_SETTLE_MS: "4000" } });

    await h.send("push.tag");
    await waitFor("both dispatches", () =>
      h!.github.calls("actions/create-workflow-dispatch").length + h!.github.calls("repos/create-dispatch-event").length === 2);
    const writesAtDispatch = h.github.calls("checks/create").length + h.github.calls("checks/update").length;
    await waitFor("two in-progress check runs", () => downstreamChecks(h!.github).filter((c) => c.status === "in_progress").length === 2, 15_000);
    await h.idle();

    expect(writesAtDispatch).toBe(0);
    const creates = h.github.calls("checks/create");
    expect(creates.map((c) => [c.body.name, c.body.status]).sort()).toEqual([
      ["openci", "in_progress"], ["openci: acme/app", "in_progress"], ["openci: other/svc", "in_progress"],
    ]);
    expect(h.github.calls("checks/update")).toEqual([]);
  });
});

describe("deduplication", () => {
  it("a redelivery and a later release of the same tag trigger nothing more", async () => {
    h = await startHarness({ map: MAP, repos: repos() });
    const first = await h.send("push.tag");
    await waitFor("both dispatches", () =>
      h!.github.calls("actions/create-workflow-dispatch").length + h!.github.calls("repos/create-dispatch-event").length === 2);

    const redelivered = await h.send("push.tag", undefined, { id: first.id });
    const release = await h.send("release.published", (p) => (p.release.tag_name = "simple-tag"));
    await waitFor("the push and the release to be fanned out", async () => (await jobCount(h!.redis.url, "events", ["completed"])) === 2);
    await h.idle();

    expect([redelivered.status, release.status]).toEqual([200, 200]);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(h.github.calls("repos/create-dispatch-event")).toHaveLength(1);
    expect(downstreamChecks(h.github)).toHaveLength(2);
  });
});

describe("what triggers nothing", () => {
  it.each([
    ["a tag no edge matches", "push.tag" as const, (p: any) => { p.ref = "refs/tags/v9.9.9"; }],
    ["a tag deletion", "push.tag-deleted" as const, () => {}],
    ["a branch push", "push.branch" as const, () => {}],
    // with a tag name the relay refuses to pass on, which it would record for a mapped upstream
    ["a tag of a repository the map does not list", "push.tag" as const, (p: any) => {
      p.repository.full_name = "someone/else";
      p.repository.name = "else";
      p.ref = "refs/tags/v1;rm";
    }],
  ])("%s", async (_what, fixture, edit) => {
    const map = MAP.replace('tags: "*"', 'tags: "simple-*"');
    h = await startHarness({ map, repos: repos() });

    const res = await h.send(fixture, edit);
    await h.idle();

    expect(res.status).toBe(200);
    expect(h.github.requests).toEqual([]);
  });
});

describe("annotated tags", () => {
  it("puts the check runs on the commit the tag object points to", async () => {
    const r = repos();
    r[UPSTREAM] = { installationId: 1, tags: { "simple-tag": { type: "tag", sha: TAG_OBJECT } }, tagObjects: { [TAG_OBJECT]: { type: "commit", sha: COMMIT } } } as any;
    h = await startHarness({ map: MAP, repos: r });

    await h.send("push.tag", (p) => (p.after = TAG_OBJECT));
    // The check runs are written before the dispatch is sent: wait for what is read, the dispatch too.
    await waitFor("check runs", () => downstreamChecks(h!.github).length === 2);
    const dispatch = await waitFor("the dispatch to acme/app", () => h!.github.calls("actions/create-workflow-dispatch")[0]);

    expect(h.github.calls("git/get-tag")[0]?.params.tag_sha).toBe(TAG_OBJECT);
    expect(downstreamChecks(h.github).map((c) => c.head_sha)).toEqual([COMMIT, COMMIT]);
    expect(dispatch.body.inputs.openci_sha).toBe(COMMIT);
  });
});

describe("signatures", () => {
  it.each([
    ["a wrong signature", `sha256=${"0".repeat(64)}`],
    ["a wrong-length signature", "sha256=abc123"],
    ["a malformed signature", "md5=not-hex!"],
    ["no signature", null],
  ])("%s gets a 4xx and enqueues nothing", async (_what, signature) => {
    h = await startHarness({ map: MAP, repos: repos() });

    const res = await h.send("push.tag", undefined, { signature });
    await h.idle();

    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await jobCount(h.redis.url, "events")).toBe(0);
    expect(h.github.requests).toEqual([]);
  });
});

describe("write pacing per installation", () => {
  it("spaces an installation's writes by the interval without delaying its first write", async () => {
    h = await startHarness({ map: MAP, repos: repos(), env: { OPENCI_WRITE_INTERVAL_MS: "2000" } });

    const sent = Date.now();
    await h.send("create.tag");
    await waitFor("both checks in progress and the roll-up written", () =>
      downstreamChecks(h!.github).filter((c) => c.status === "in_progress").length === 2 && h!.github.checkRuns.some((c) => c.name === "openci"), 15_000);

    const writes = h.github.requests.filter((r) => r.installationId === 1 && r.method !== "GET");
    const gaps = writes.slice(1).map((w, i) => w.at - writes[i]!.at);
    const dispatch = h.github.calls("actions/create-workflow-dispatch")[0]!;
    expect(dispatch.at - sent).toBeLessThan(1500);
    expect(writes.length).toBeGreaterThanOrEqual(3);
    // Paced at request start; arrival at the fake can lag by a token request, hence the margin.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1700);
  });
});
