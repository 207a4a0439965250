import { describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { main } from "../../src/cli/main.js";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import type { Ignored } from "../helpers/idle.js";
import { allJobs } from "../helpers/queue-client.js";
import type { Harness } from "../helpers/relay-harness.js";
import { EXAMPLE_DOWNSTREAM } from "../helpers/runs.js";
import { useHarness } from "../helpers/scenario.js";
import { octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Upstreams the relay gets no webhook from, on GitHub and GitLab (issue 18): a public GitHub
 * repository the app is not installed on, read with the relay's own installation (GraphQL, REST with
 * ETags where GraphQL is refused), and a public GitLab project read without a token. Each is named
 * `watch:` in the map; their tags trigger the GitHub downstream octo-org/octo-repo, and nothing is
 * ever written to them.
 */
const sha = (s: string) => createHash("sha1").update(s).digest("hex");
const [C1, C2, C3] = [sha("c1"), sha("c2"), sha("c3")] as [string, string, string];
const day = (d: number) => new Date(Date.UTC(2026, 0, d)).toISOString();

const GH_UPSTREAM = "watched-org/lib";
const GL_UPSTREAM = "group/lib";

/** Public, and the app is not installed there (installation 900 is someone else's). */
const watchedRepo = (): FakeRepo => ({
  installationId: 900, installed: false,
  tags: { "v1.0.0": { type: "commit", sha: C1 } }, commitDates: { [C1]: day(1) },
});

const MAP = (o: { gitlab?: boolean; missing?: boolean } = {}) => `
version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: lib, foundation: f, github: ${GH_UPSTREAM}, watch: {} }
${o.gitlab ? `  - { id: gl-lib, foundation: f, gitlab: ${GL_UPSTREAM}, watch: {} }\n` : ""}${o.missing ? "  - { id: missing, foundation: f, github: watched-org/missing, watch: {} }\n" : ""}  - id: octo
    foundation: f
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: lib, tags: "v*" }${o.gitlab ? ', { project: gl-lib, tags: "v*" }' : ""}${o.missing ? ", { project: missing }" : ""}]
`;

/** Polls every 300 ms (the floor lowered for the test); no GitLab token: its project is read anonymously. */
const ENV = { OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300", GITLAB_TOKEN: "", OPENCI_ADMIN_TOKEN: "admin-token-for-the-watch-test" };

/** The watcher polls for the whole test: its jobs and its reads come and go while everything else is idle. */
const WATCHER: Ignored[] = [
  { queue: "events", name: "watch-batch", why: "the GitHub upstreams are polled every 300 ms", requests: ["graphql", "repos/list-tags", "apps/create-installation-access-token", "apps/list-installations"] },
  { queue: "events", name: "watch-poll", why: "the GitLab upstream is polled every 300 ms", requests: ["list_repository_tags"] },
];

const startHarness = useHarness();

const dispatched = (h: Harness) =>
  h.github.calls("actions/create-workflow-dispatch").map((c) => `${c.body.inputs.openci_upstream} ${c.body.inputs.openci_tag}@${c.body.inputs.openci_sha}`);

const baseline = (h: Harness, id: string) => waitFor(`the baseline of ${id}`, () => h.logs.some((l) => l.includes("watch: baseline taken") && l.includes(`"upstream":"${id}"`)), 10_000);

/** Two more reads of each watched upstream, then the rest of the relay idle: nothing else came of them. */
async function quiet(h: Harness): Promise<void> {
  const reads = () => [h.github.requests.filter((r) => r.operationId === "graphql" || r.operationId === "repos/list-tags").length, h.gitlab?.calls("list_repository_tags").length ?? 0];
  const [gh, gl] = reads();
  await waitFor("two more polls", () => reads()[0]! >= gh! + 2 && (h.gitlab === undefined || reads()[1]! >= gl! + 2), 10_000);
  await h.idle({ ignore: WATCHER });
}

/** Every job the report queue ever held: pushes to an upstream's commit, none of which may be tried. */
const reportJobs = (h: Harness): Promise<number> => allJobs(h.redisUrl, "report");

/** Everything the relay asked about the upstream's repository: reads only, or the test names the write. */
const writesTo = (h: Harness, repo: string) => h.github.requests.filter((r) => r.path.startsWith(`/repos/${repo}/`) && r.method !== "GET");

describe("GitHub and GitLab upstreams that send no webhook, watched (issue 18)", () => {
  it("a tag on an uninstalled GitHub repository and on a GitLab project each trigger the downstream once, and nothing is written to either", async () => {
    const h = await startHarness({
      map: MAP({ gitlab: true }), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), [GH_UPSTREAM]: watchedRepo() }, env: ENV,
      gitlabProjects: [GL_UPSTREAM], gitlabTags: { [GL_UPSTREAM]: { "v1.0.0": C1 } },
    });
    await baseline(h, "lib");
    await baseline(h, "gl-lib");
    await quiet(h);
    expect(dispatched(h)).toEqual([]);

    const upstream = h.github.repos[GH_UPSTREAM]!;
    upstream.tags!["v1.1.0"] = { type: "commit", sha: C2 };
    upstream.commitDates![C2] = day(2);
    h.gitlab!.setTags(GL_UPSTREAM, { "v1.0.0": C1, "v2.0.0": C3 });
    await waitFor("both new tags dispatched", () => dispatched(h).length >= 2, 10_000);
    await quiet(h);

    expect(dispatched(h).sort()).toEqual([`gl-lib v2.0.0@${C3}`, `lib v1.1.0@${C2}`]);
    // GitHub: read by GraphQL with the relay's own installation (octo's, 5), one repository per query here; nothing written.
    expect(h.github.graphql.queries.length).toBeGreaterThanOrEqual(4);
    expect(h.github.graphql.queries.every((q) => q.installationId === 5 && q.repositories.join() === GH_UPSTREAM && q.refused === undefined)).toBe(true);
    expect(writesTo(h, GH_UPSTREAM)).toEqual([]);
    expect(h.github.checkRuns).toEqual([]);
    expect(h.github.comments).toEqual([]);
    // GitLab: only reads, none with a token; no commit status, no note.
    expect(new Set(h.gitlab!.requests.map((r) => `${r.method} ${r.doc}`))).toEqual(new Set(["GET list_repository_tags", "GET get_tag", "GET get_project"]));
    expect(h.gitlab!.requests.filter((r) => r.headers["private-token"] !== undefined)).toEqual([]);
    expect(h.gitlab!.statuses).toEqual([]);
    // Not even tried (a try would fail: no installation there, no GitLab token): no push queued, no error logged.
    expect(await reportJobs(h)).toBe(0);
    expect(h.logs.filter((l) => l.includes("upstream report cannot be written") || l.includes('"level":50'))).toEqual([]);
  }, 60_000);

  it("reads by REST with ETags where GraphQL is refused: unchanged pages answer 304, a new tag triggers once", async () => {
    const h = await startHarness({ map: MAP(), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), [GH_UPSTREAM]: watchedRepo() }, env: ENV });
    // A GitHub Enterprise Server whose schema lacks the query: 200, errors, no data.
    h.github.fail("graphql", 200, { body: { errors: [{ message: "Field 'refs' doesn't exist on type 'Repository'" }] } });
    await baseline(h, "lib");
    await waitFor("three 304s", () => h.github.notModified.filter((r) => r.path === `/repos/${GH_UPSTREAM}/tags`).length >= 3, 10_000);
    const graphqlQueries = h.github.calls("graphql").length;

    h.github.repos[GH_UPSTREAM]!.tags!["v1.1.0"] = { type: "commit", sha: C2 };
    await waitFor("v1.1.0 dispatched", () => dispatched(h).length >= 1, 10_000);
    await quiet(h);

    expect(dispatched(h)).toEqual([`lib v1.1.0@${C2}`]);
    // GraphQL is left alone after the refusal (it would be refused again); REST asked every page with its ETag.
    expect(h.github.calls("graphql")).toHaveLength(graphqlQueries);
    expect(graphqlQueries).toBeLessThanOrEqual(2);
    expect(h.github.calls("repos/list-tags").slice(1).every((r) => r.installationId === 5)).toBe(true);
    expect(writesTo(h, GH_UPSTREAM)).toEqual([]);
    expect(h.github.checkRuns).toEqual([]);
  }, 60_000);

  it("reads many uninstalled GitHub upstreams together: GraphQL queries of at most OPENCI_WATCH_GITHUB_BATCH repositories, one point each", async () => {
    const many = Array.from({ length: 150 }, (_, i) => `watched-org/r${i}`);
    const map = `
version: 2
foundations: [{ id: f, name: F }]
projects:
${many.map((repo, i) => `  - { id: r${i}, foundation: f, github: ${repo}, watch: {} }`).join("\n")}
  - id: octo
    foundation: f
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [${many.map((_, i) => `{ project: r${i} }`).join(", ")}]
`;
    const h = await startHarness({ map, repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), ...Object.fromEntries(many.map((r) => [r, watchedRepo()])) }, env: { ...ENV, OPENCI_WATCH_GITHUB_BATCH: "60" } });
    await waitFor("every baseline and a second look at each", async () => h.github.graphql.queries.flatMap((q) => q.repositories).length >= 2 * many.length
      && h.logs.filter((l) => l.includes("watch: baseline taken")).length >= many.length, 20_000);

    const queries = h.github.graphql.queries;
    const asked = queries.flatMap((q) => q.repositories);
    expect(Math.max(...queries.map((q) => q.repositories.length))).toBeLessThanOrEqual(60);
    // One query per tick's due upstreams, not one per upstream: here the 150 were claimed over a few ticks.
    expect(asked.length / queries.length).toBeGreaterThan(5);
    expect(new Set(asked)).toEqual(new Set(many));
    expect(queries.every((q) => q.cost === 1 && q.refused === undefined)).toBe(true);
    expect(h.github.graphql.spent(5)).toBe(queries.length);
    expect(h.github.calls("repos/list-tags")).toEqual([]);
  }, 60_000);

  it("`openci-relay watch` lists each watched upstream: last and next poll, last new tag, the 304 share, the last error", async () => {
    const h = await startHarness({ map: MAP({ missing: true }), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), [GH_UPSTREAM]: watchedRepo() }, env: ENV });
    h.github.fail("graphql", 200, { body: { errors: [{ message: "Field 'refs' doesn't exist on type 'Repository'" }] } });
    await baseline(h, "lib");
    h.github.repos[GH_UPSTREAM]!.tags!["v1.1.0"] = { type: "commit", sha: C2 };
    await waitFor("v1.1.0 dispatched", () => dispatched(h).length >= 1, 10_000);
    await waitFor("a 304 after it", () => h.github.notModified.some((r) => r.path === `/repos/${GH_UPSTREAM}/tags`), 10_000);
    const env = { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: ENV.OPENCI_ADMIN_TOKEN };

    const text: string[] = [];
    const code = await main(["watch"], env, (s) => text.push(s), (s) => text.push(s));
    const json: string[] = [];
    const jsonCode = await main(["watch", "--json"], env, (s) => json.push(s), (s) => json.push(s));
    const refused = await main(["watch"], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: "wrong-token-wrong-token" }, () => {}, () => {});

    expect([code, jsonCode, refused]).toEqual([0, 0, 1]);
    const out = text.join("");
    expect(out).toMatch(/^lib {2}github watched-org\/lib {2}every 0\.3s\n {2}last poll \S+Z, next \S+Z; last new tag v1\.1\.0; \d+ of \d+ polls answered 304 \(\d+%\)\n/m);
    expect(out).toMatch(/^missing {2}github watched-org\/missing {2}every 0\.3s\n.*no baseline yet.*\n {2}error: .*no such public repository.*\n/m);
    const { upstreams } = JSON.parse(json.join("")) as { upstreams: { id: string; lastNewTag: string | null; polls: number; notModified: number; lastError: string | null; nextPollAt: string }[] };
    expect(upstreams.map((u) => u.id)).toEqual(["lib", "missing"]);
    expect(upstreams[0]).toMatchObject({ lastNewTag: "v1.1.0", lastError: null, nextPollAt: expect.any(String) });
    expect(upstreams[0]!.notModified).toBeGreaterThan(0);
    expect(upstreams[0]!.polls).toBeGreaterThan(upstreams[0]!.notModified);
    expect(upstreams[1]!.lastError).toContain("no such public repository");
  }, 60_000);
});
