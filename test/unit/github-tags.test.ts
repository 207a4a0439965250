import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { Probot } from "probot";
import { ForgeError } from "../../src/forge/errors.js";
import { RelayOctokit, type GithubClient } from "../../src/forge/github-octokit.js";
import { createLogger } from "../../src/log.js";
import { listGithubTagsRest } from "../../src/watch/github-tags-rest.js";
import { readGithubTags, type RepoTags } from "../../src/watch/github-tags.js";
import { FakeGithub, type FakeRepo } from "../fakes/github/fake-github.js";
import { appPrivateKey } from "../helpers/keys.js";

/**
 * The building block that reads the tags of public GitHub repositories the app is not installed on,
 * over real HTTP against the fake GitHub: GraphQL batches checked against GitHub's published schema,
 * and the REST list with conditional requests. The relay's client is Probot's, as in production
 * (an installation token of the relay's own installation, 1).
 */
const APP_ID = 31;
const sha = (s: string) => createHash("sha1").update(s).digest("hex");
const day = (d: number) => new Date(Date.UTC(2026, 0, d)).toISOString();

/** Three lightweight tags whose name order is not their date order: v0.9.0, then v0.10.0, then v1.0.0. */
function watched(repo: string): FakeRepo {
  const names = ["v0.9.0", "v0.10.0", "v1.0.0"];
  return {
    installationId: 500, installed: false,
    tags: Object.fromEntries(names.map((n) => [n, { type: "commit" as const, sha: sha(`${repo}@${n}`) }])),
    commitDates: Object.fromEntries(names.map((n, i) => [sha(`${repo}@${n}`), day(i + 1)])),
  };
}
const newestFirst = (repo: string) => ["v1.0.0", "v0.10.0", "v0.9.0"].map((name) => ({ name, sha: sha(`${repo}@${name}`) }));
const WATCHED = Array.from({ length: 170 }, (_, i) => `watch/r${i}`);

const C1 = sha("c1");
const C2 = sha("c2");
const C3 = sha("c3");
const [ANNOTATED, OUTER, MIDDLE, DEEP1, DEEP2, DEEP3] = ["annotated", "outer", "middle", "d1", "d2", "d3"].map((s) => sha(`tag object ${s}`)) as [string, string, string, string, string, string];

const repos = (): Record<string, FakeRepo> => ({
  "relay/home": { installationId: 1 },
  "relay/private": { installationId: 1, private: true, tags: { "v2.0": { type: "commit", sha: C1 } } },
  "other/secret": { installationId: 7, private: true, tags: { "v1.0": { type: "commit", sha: C1 } } },
  "up/lib": {
    installationId: 500, installed: false,
    tags: {
      light: { type: "commit", sha: C1 },
      annotated: { type: "tag", sha: ANNOTATED },
      "tag-of-tag": { type: "tag", sha: OUTER },
      deep: { type: "tag", sha: DEEP1 },
    },
    tagObjects: {
      [ANNOTATED]: { type: "commit", sha: C2 },
      [OUTER]: { type: "tag", sha: MIDDLE }, [MIDDLE]: { type: "commit", sha: C3 },
      [DEEP1]: { type: "tag", sha: DEEP2 }, [DEEP2]: { type: "tag", sha: DEEP3 }, [DEEP3]: { type: "commit", sha: C3 },
    },
    commitDates: { [C1]: day(1), [C2]: day(2), [C3]: day(3) },
  },
  "up/many": {
    installationId: 500, installed: false,
    tags: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`v${i}`, { type: "commit" as const, sha: sha(`many ${i}`) }])),
    commitDates: Object.fromEntries(Array.from({ length: 25 }, (_, i) => [sha(`many ${i}`), day(i + 1)])),
  },
  "up/closed": { installationId: 500, installed: false, private: true, tags: { "v1.0": { type: "commit", sha: C1 } }, commitDates: { [C1]: day(1) } },
  "up/paged": {
    installationId: 500, installed: false,
    tags: Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`t${String(i).padStart(3, "0")}`, { type: "commit" as const, sha: sha(`paged ${i}`) }])),
  },
  ...Object.fromEntries(WATCHED.map((r) => [r, watched(r)])),
});

let github: FakeGithub;
let gh: GithubClient;

beforeAll(async () => {
  github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: repos() });
  const probot = new Probot({ appId: APP_ID, privateKey: appPrivateKey(), baseUrl: `http://${github.host}/api/v3`, Octokit: RelayOctokit, log: createLogger("silent") });
  gh = (await probot.auth(1)) as GithubClient;
});
beforeEach(() => {
  github.requests.length = 0;
  github.notModified.length = 0;
  github.graphql.queries.length = 0;
});
afterEach(() => {
  expect(github.problems).toEqual([]);
});
afterAll(async () => {
  await github.stop();
});

const tagsOf = (r: RepoTags | undefined) => (r && "tags" in r ? r.tags : undefined);
const errorOf = (r: RepoTags | undefined) => (r && "error" in r ? r.error : undefined);

describe("readGithubTags: GraphQL batches", () => {
  it("reads one repository with one query: newest first by commit date, annotated tags and a tag of a tag peeled to their commit", async () => {
    const result = await readGithubTags(gh, ["up/lib"]);

    expect(result.repos["up/lib"]).toEqual({
      tags: [{ name: "tag-of-tag", sha: C3 }, { name: "annotated", sha: C2 }, { name: "light", sha: C1 }],
      // three tag objects deep: past what the query reads, left for the REST API to peel
      unpeeled: [{ name: "deep", type: "Tag", oid: DEEP3 }],
    });
    expect(result).toMatchObject({ queries: 1, cost: 1, rateLimit: { remaining: expect.any(Number), resetAt: expect.any(String) } });
    expect(github.calls("graphql")).toHaveLength(1);
    expect(github.calls("graphql")[0]!.installationId).toBe(1);
    expect(github.graphql.queries).toEqual([{ installationId: 1, cost: 1, repositories: ["up/lib"] }]);
  });

  it.each([
    [1, [1]],
    [50, [50]],
    [120, [50, 50, 20]],
  ])("reads %i repositories in queries of at most 50 aliases (%j), one point each", async (count, sizes) => {
    const wanted = WATCHED.slice(0, count);
    const spentBefore = github.graphql.spent(1);

    const result = await readGithubTags(gh, wanted);

    expect(result.queries).toBe(sizes.length);
    expect(github.graphql.queries.map((q) => q.repositories.length)).toEqual(sizes);
    expect(github.graphql.queries.flatMap((q) => q.repositories)).toEqual(wanted);
    expect(Object.keys(result.repos)).toEqual(wanted);
    for (const repo of wanted) expect(result.repos[repo]).toEqual({ tags: newestFirst(repo), unpeeled: [] });
    expect(result.cost).toBe(sizes.length);
    expect(github.graphql.spent(1) - spentBefore).toBe(sizes.length);
  });

  it.each([
    [140, 1],
    [149, 1],
    [150, 2],
  ])("a query of %i repositories costs %i point(s): GitHub's connections ÷ 100, rounded (why OPENCI_WATCH_GITHUB_BATCH stops at 149)", async (count, points) => {
    const wanted = WATCHED.slice(0, count);

    const result = await readGithubTags(gh, wanted, { batchSize: count });

    expect(result).toMatchObject({ queries: 1, cost: points });
    expect(github.graphql.queries.map((q) => [q.repositories.length, q.cost])).toEqual([[count, points]]);
    expect(Object.values(result.repos).every((r) => "tags" in r && r.tags.length === 3)).toBe(true);
  });

  it("reads only the newest perRepo tags", async () => {
    const result = await readGithubTags(gh, ["up/many"], { perRepo: 5 });

    expect(tagsOf(result.repos["up/many"])!.map((t) => t.name)).toEqual(["v24", "v23", "v22", "v21", "v20"]);
  });

  it("reports a missing or private repository on its own and reads the others in the same query", async () => {
    const result = await readGithubTags(gh, ["watch/r0", "nobody/nothing", "other/secret", "relay/private", "watch/r1", "not a repo"]);

    expect(result.queries).toBe(1);
    expect(tagsOf(result.repos["watch/r0"])).toEqual(newestFirst("watch/r0"));
    expect(tagsOf(result.repos["watch/r1"])).toEqual(newestFirst("watch/r1"));
    // private, but in the token's own installation: GitHub lets it read it
    expect(tagsOf(result.repos["relay/private"])).toEqual([{ name: "v2.0", sha: C1 }]);
    for (const repo of ["nobody/nothing", "other/secret"]) {
      const error = errorOf(result.repos[repo])!;
      expect(error).toBeInstanceOf(ForgeError);
      expect(error).toMatchObject({ kind: "config", status: 404 });
      expect(error.message).toContain(`Could not resolve to a Repository with the name '${repo}'.`);
      expect(error.hint).toContain("only while it is public");
    }
    expect(errorOf(result.repos["not a repo"])).toMatchObject({ kind: "config" });
    expect(github.graphql.queries[0]!.repositories).toEqual(["watch/r0", "nobody/nothing", "other/secret", "relay/private", "watch/r1"]);
  });

  it("stops at a rate-limited answer: that batch and the ones after it wait until the reset GitHub names", async () => {
    const limit = github.graphql.limit;
    github.graphql.limit = github.graphql.spent(1) + 2;
    try {
      const result = await readGithubTags(gh, WATCHED);

      const errors = WATCHED.slice(100).map((r) => errorOf(result.repos[r]));
      expect(WATCHED.slice(0, 100).every((r) => tagsOf(result.repos[r])?.length === 3)).toBe(true);
      expect(errors.every((e) => e?.kind === "rate_limited" && e === errors[0])).toBe(true);
      expect(errors[0]!.message).toContain("API rate limit exceeded for installation ID 1.");
      expect(errors[0]!.retryAfterMs).toBeGreaterThan(3_500_000);
      expect(errors[0]!.retryAfterMs).toBeLessThanOrEqual(3_601_000);
      // 170 repositories are four batches: the fourth is not sent
      expect(result.queries).toBe(3);
      expect(github.calls("graphql")).toHaveLength(3);
      expect(result).toMatchObject({ cost: 2, rateLimit: { remaining: 0 } });
    } finally {
      github.graphql.limit = limit;
    }
  });

  it("gives a 5xx to the repositories of its batch only, as transient", async () => {
    github.fail("graphql", 502);

    const result = await readGithubTags(gh, WATCHED.slice(0, 120));

    expect(WATCHED.slice(0, 50).every((r) => errorOf(result.repos[r])?.kind === "transient" && errorOf(result.repos[r])?.status === 502)).toBe(true);
    expect(WATCHED.slice(50, 120).every((r) => tagsOf(result.repos[r])?.length === 3)).toBe(true);
    expect(result.queries).toBe(3);
    expect(result.cost).toBe(2);
  });

  it("takes an answer without data (GitHub refused the query) as a configuration error and sends no more", async () => {
    github.fail("graphql", 200, { body: { errors: [{ message: "Field 'nmae' doesn't exist on type 'Ref'" }] } });

    const result = await readGithubTags(gh, WATCHED.slice(0, 120));

    const first = errorOf(result.repos["watch/r0"])!;
    expect(first).toMatchObject({ kind: "config" });
    expect(first.message).toContain("Field 'nmae' doesn't exist");
    expect(WATCHED.slice(0, 120).every((r) => errorOf(result.repos[r]) === first)).toBe(true);
    expect(github.calls("graphql")).toHaveLength(1);
  });

  it("refuses what GitHub refuses beyond the schema: a connection without first/last, or more than 100", async () => {
    const refused = async (query: string) => gh.graphql(query).then(() => undefined, (e: { errors?: { type?: string }[] }) => e.errors?.map((x) => x.type));

    const missing = await refused(`{ repository(owner: "up", name: "lib") { refs(refPrefix: "refs/tags/") { totalCount } } }`);
    const tooMany = await refused(`{ repository(owner: "up", name: "lib") { refs(refPrefix: "refs/tags/", first: 101) { totalCount } } }`);

    expect(missing).toEqual(["MISSING_PAGINATION_BOUNDARIES"]);
    expect(tooMany).toEqual(["EXCESSIVE_PAGINATION"]);
    expect(github.problems).toHaveLength(2);
    github.problems.length = 0;
  });
});

describe("listGithubTagsRest: the REST list with conditional requests", () => {
  it("reads a public repository the app is not installed on; asked again with its ETag, a 304 spends nothing", async () => {
    const first = await listGithubTagsRest(gh, "watch/r3");
    const again = await listGithubTagsRest(gh, "watch/r3", { pages: first.pages });

    expect(first).toMatchObject({ notModified: false, truncated: false, spent: 1 });
    expect(first.notModified === false && first.tags.map((t) => t.name)).toEqual(["v0.9.0", "v0.10.0", "v1.0.0"]);
    expect(first.pages[0]!.etag).toMatch(/^W\/"[0-9a-f]+"$/);
    expect(again).toEqual({ notModified: true, pages: first.pages, spent: 0 });
    expect(github.calls("repos/list-tags")).toHaveLength(2);
    expect(github.notModified).toEqual([github.calls("repos/list-tags")[1]]);
    expect(github.calls("repos/list-tags").map((r) => r.installationId)).toEqual([1, 1]);
  });

  it("sees a new tag: the page that changed answers 200", async () => {
    const first = await listGithubTagsRest(gh, "watch/r4");
    github.repos["watch/r4"]!.tags!["v1.1.0"] = { type: "commit", sha: C1 };

    const after = await listGithubTagsRest(gh, "watch/r4", { pages: first.pages });

    expect(after.notModified).toBe(false);
    expect(after.notModified === false && after.tags.at(-1)).toEqual({ name: "v1.1.0", sha: C1 });
    expect(after.notModified === false && after.spent).toBe(1);
    expect(github.notModified).toHaveLength(0);
  });

  it("follows Link rel=next up to maxPages, and says when it stopped short", async () => {
    const short = await listGithubTagsRest(gh, "up/paged", { maxPages: 2 });
    const whole = await listGithubTagsRest(gh, "up/paged");

    expect(short).toMatchObject({ notModified: false, truncated: true, spent: 2 });
    expect(short.notModified === false && short.tags).toHaveLength(200);
    expect(whole).toMatchObject({ notModified: false, truncated: false, spent: 3 });
    expect(whole.notModified === false && whole.tags.map((t) => t.name)).toEqual(Object.keys(github.repos["up/paged"]!.tags!));
    expect(github.calls("repos/list-tags").map((r) => r.query)).toEqual([
      { per_page: "100" }, { per_page: "100", page: "2" },
      { per_page: "100" }, { per_page: "100", page: "2" }, { per_page: "100", page: "3" },
    ]);
  });

  it("asks every page with its own ETag: all unchanged costs nothing, a tag on the last page costs that page only", async () => {
    const first = await listGithubTagsRest(gh, "up/paged");
    const unchanged = await listGithubTagsRest(gh, "up/paged", { pages: first.pages });
    github.repos["up/paged"]!.tags!["t999"] = { type: "commit", sha: C2 };
    const grown = await listGithubTagsRest(gh, "up/paged", { pages: first.pages });

    expect(unchanged).toEqual({ notModified: true, pages: first.pages, spent: 0 });
    expect(grown).toMatchObject({ notModified: false, spent: 1, truncated: false });
    expect(grown.notModified === false && grown.tags).toHaveLength(251);
    expect(github.notModified).toHaveLength(3 + 2);
    expect(github.calls("repos/list-tags")).toHaveLength(3 + 3 + 3);
    delete github.repos["up/paged"]!.tags!["t999"];
  });

  it.each([
    ["a private repository of another installation", "other/secret"],
    ["a repository that does not exist", "nobody/nothing"],
  ])("answers %s with a configuration error", async (_what, repo) => {
    const err = await listGithubTagsRest(gh, repo).then(() => undefined, (e: unknown) => e);

    expect(err).toBeInstanceOf(ForgeError);
    expect(err).toMatchObject({ kind: "config", status: 404 });
    expect((err as ForgeError).hint).toContain("only while it is public");
  });

  it("waits out a rate-limited answer until the reset GitHub names", async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    github.fail("repos/list-tags", 403, {
      body: { message: "API rate limit exceeded for installation ID 1.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
    });

    const err = await listGithubTagsRest(gh, "watch/r5").then(() => undefined, (e: unknown) => e as ForgeError);

    expect(err).toMatchObject({ kind: "rate_limited", status: 403 });
    expect(err!.retryAfterMs).toBeGreaterThan(100_000);
    expect(err!.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it("takes a 5xx as transient", async () => {
    github.fail("repos/list-tags", 503);

    const err = await listGithubTagsRest(gh, "watch/r5").then(() => undefined, (e: unknown) => e);

    expect(err).toMatchObject({ kind: "transient", status: 503 });
  });
});

describe("the fake GitHub on repositories the app is not installed on", () => {
  it("lets any installation token read a public one, and refuses a write there", async () => {
    const read = await gh.request("GET /repos/{owner}/{repo}/tags", { owner: "watch", repo: "r6" });
    const write = await gh.request("POST /repos/{owner}/{repo}/check-runs", { owner: "watch", repo: "r6", name: "openci: x", head_sha: C1 }).then(() => 201, (e: { status: number }) => e.status);

    expect(read.status).toBe(200);
    expect(write).toBe(404);
    expect(github.checkRuns).toHaveLength(0);
  });

  it.each([
    ["a check run", "POST /repos/{owner}/{repo}/check-runs", { name: "openci: x", head_sha: C1 }],
    ["a commit comment", "POST /repos/{owner}/{repo}/commits/{commit_sha}/comments", { commit_sha: C1, body: "hello" }],
    ["a pull request comment", "POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { issue_number: 1, body: "hello" }],
  ])("refuses %s on a public repository it is not installed on", async (_what, route, params) => {
    const status = await gh.request(route, { owner: "up", repo: "lib", ...params }).then((r) => r.status, (e: { status: number }) => e.status);

    expect(status).toBe(404);
    expect(github.checkRuns).toHaveLength(0);
    expect(github.comments).toHaveLength(0);
  });

  it("refuses to read a private repository it is not installed on, by REST and by GraphQL, and names no installation of its own there", async () => {
    const rest = await gh.request("GET /repos/{owner}/{repo}/tags", { owner: "up", repo: "closed" }).then((r) => r.status, (e: { status: number }) => e.status);
    const graphql = await readGithubTags(gh, ["up/closed"]);
    const app = (await new Probot({ appId: APP_ID, privateKey: appPrivateKey(), baseUrl: `http://${github.host}/api/v3`, Octokit: RelayOctokit, log: createLogger("silent") }).auth()) as GithubClient;
    const installations = (await app.request("GET /app/installations")).data.map((i) => i.id);
    const token = await app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: 500 }).then((r) => r.status, (e: { status: number }) => e.status);

    expect(rest).toBe(404);
    expect(errorOf(graphql.repos["up/closed"])).toMatchObject({ kind: "config", status: 404 });
    expect(installations).toEqual([1, 7]);
    expect(token).toBe(404);
  });
});
