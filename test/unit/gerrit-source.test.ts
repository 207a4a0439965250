import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ForgeError } from "../../src/forge/errors.js";
import { GerritSource } from "../../src/forge/gerrit.js";
import { gerritBase } from "../../src/forge/gerrit-http.js";
import { gerritChangeId, GerritReviews } from "../../src/forge/gerrit-review.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";

/**
 * GerritSource and GerritReviews against the fake Gerrit (test/fakes/gerrit, routes from Gerrit's
 * REST docs, SOURCE.md) over real HTTP: tags paged with n/S until a short page, annotated tags as
 * their commit, a context path, `/a/` with basic auth, visibility, errors classified with hints, and
 * review messages posted as ReviewInput documents them.
 */

const USER = "openci-ci";
const PASSWORD = "http-password-from-settings";
const auth = { user: USER, password: PASSWORD };

async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

const queries = (fake: FakeGerrit) => fake.requests.map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ""}`);

describe("GerritSource", () => {
  let gerrit: FakeGerrit;
  beforeAll(async () => {
    gerrit = await FakeGerrit.start({ user: USER, password: PASSWORD });
  });
  afterAll(() => gerrit.stop());
  afterEach(() => {
    expect(gerrit.problems).toEqual([]);
    gerrit.requests.length = 0;
    gerrit.beforeAnswer = undefined;
    gerrit.projects.clear();
  });

  it("pages the tags with n and S until a short page, each page overlapping the last by one, annotated tags as their commit", async () => {
    gerrit.addProject("openstack/nova");
    const t = ["29.0.0", "29.0.1", "29.1.0", "30.0.0", "30.0.1"].map((name, i) => gerrit.addTag("openstack/nova", name, { annotated: i % 2 === 0 }));
    const source = new GerritSource({ url: gerrit.url, pageSize: 2 });

    const tags = await source.listTags("openstack/nova");

    expect(tags).toEqual(t.map((x) => ({ name: x.name, sha: x.commit })));
    expect(tags[0]!.sha).not.toBe(t[0]!.annotated!.tagObject);
    expect(queries(gerrit)).toEqual([
      "GET /projects/openstack%2Fnova/tags/?n=2&S=0",
      "GET /projects/openstack%2Fnova/tags/?n=3&S=1",
      "GET /projects/openstack%2Fnova/tags/?n=3&S=3",
    ]);
    expect(gerrit.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("stops on an empty last page when the tags fill whole pages, and reads a project without tags in one request", async () => {
    gerrit.addProject("empty/project");
    gerrit.addProject("even/project");
    gerrit.addTags("even/project", ["a", "b", "c", "d"], "1".repeat(40));
    const source = new GerritSource({ url: gerrit.url, pageSize: 2 });

    const none = await source.listTags("empty/project");
    const four = await source.listTags("even/project");

    expect(none).toEqual([]);
    expect(four.map((x) => x.name)).toEqual(["a", "b", "c", "d"]);
    expect(queries(gerrit)).toEqual([
      "GET /projects/empty%2Fproject/tags/?n=2&S=0",
      "GET /projects/even%2Fproject/tags/?n=2&S=0",
      "GET /projects/even%2Fproject/tags/?n=3&S=1",
      "GET /projects/even%2Fproject/tags/?n=3&S=3",
    ]);
  });

  it("reads the listing again when a tag is deleted between two pages, so no tag is lost (nor taken as deleted)", async () => {
    gerrit.addProject("openstack/nova");
    gerrit.addTags("openstack/nova", ["a", "b", "c", "d", "e"], "2".repeat(40));
    let deleted = false;
    gerrit.beforeAnswer = (r) => {
      if (!deleted && r.query.includes("S=1")) {
        deleted = true;
        gerrit.deleteTag("openstack/nova", "a", { quietly: true });
      }
    };
    const source = new GerritSource({ url: gerrit.url, pageSize: 2 });

    const listing = await source.watchTags("openstack/nova", undefined);

    expect(listing).toEqual({ notModified: false, etag: undefined, complete: true, tags: ["b", "c", "d", "e"].map((name) => ({ name, sha: "2".repeat(40) })) });
    expect(queries(gerrit)).toEqual([
      "GET /projects/openstack%2Fnova/tags/?n=2&S=0",
      "GET /projects/openstack%2Fnova/tags/?n=3&S=1",
      "GET /projects/openstack%2Fnova/tags/?n=2&S=0",
      "GET /projects/openstack%2Fnova/tags/?n=3&S=1",
      "GET /projects/openstack%2Fnova/tags/?n=3&S=3",
    ]);
  });

  it("never claims notModified and sends no If-None-Match (Gerrit sends no ETag for the list); more tags than maxPages is incomplete", async () => {
    gerrit.addProject("big/project");
    gerrit.addTags("big/project", ["a", "b", "c", "d", "e"], "3".repeat(40));
    const source = new GerritSource({ url: gerrit.url, pageSize: 2, maxPages: 2 });

    const listing = await source.watchTags("big/project", "W/\"some-old-etag\"");

    expect(listing).toEqual({ notModified: false, etag: undefined, complete: false, tags: ["a", "b", "c", "d"].map((name) => ({ name, sha: "3".repeat(40) })) });
    expect(gerrit.requests.map((r) => r.headers["if-none-match"])).toEqual([undefined, undefined]);
  });

  it("resolves a tag with GET …/tags/{tag}: an annotated tag to its object, a lightweight one to its revision, a moved one to its new commit", async () => {
    gerrit.addProject("openstack/nova");
    const annotated = gerrit.addTag("openstack/nova", "30.0.0", { annotated: "Nova 30.0.0" });
    const light = gerrit.addTag("openstack/nova", "stable/2026.1-eol");
    const source = new GerritSource({ url: gerrit.url });

    const a = await source.resolveTag("openstack/nova", "30.0.0", annotated.annotated!.tagObject);
    const l = await source.resolveTag("openstack/nova", "stable/2026.1-eol", undefined);
    gerrit.moveTag("openstack/nova", "30.0.0", "4".repeat(40), { annotated: true });
    const moved = await source.resolveTag("openstack/nova", "30.0.0", undefined);
    gerrit.deleteTag("openstack/nova", "30.0.0");
    const gone = await failure(source.resolveTag("openstack/nova", "30.0.0", undefined));

    expect([a, l, moved]).toEqual([annotated.commit, light.commit, "4".repeat(40)]);
    expect(gone.kind).toBe("config");
    expect(gone.hint).toMatch(/deleted after the relay heard of it/);
    expect(queries(gerrit)).toEqual([
      "GET /projects/openstack%2Fnova/tags/30.0.0",
      "GET /projects/openstack%2Fnova/tags/stable%2F2026.1-eol",
      "GET /projects/openstack%2Fnova/tags/30.0.0",
      "GET /projects/openstack%2Fnova/tags/30.0.0",
    ]);
  });

  it("answers no open pull requests: Gerrit changes come from the event stream", async () => {
    expect(await new GerritSource({ url: gerrit.url }).openPullRequests()).toEqual([]);
    expect(gerrit.requests).toEqual([]);
  });

  it("reads under /a/ with basic auth when the map gives an account, and refuses a wrong password as config with the hint", async () => {
    gerrit.addProject("internal/secret", { anonymous: false });
    const t = gerrit.addTag("internal/secret", "v1.0", { annotated: true });
    const anonymous = new GerritSource({ url: gerrit.url });
    const withAccount = new GerritSource({ url: gerrit.url, auth });
    const wrong = new GerritSource({ url: gerrit.url, auth: { user: USER, password: "login-password" } });

    const tags = await withAccount.listTags("internal/secret");
    const hidden = await failure(anonymous.listTags("internal/secret"));
    const refused = await failure(wrong.listTags("internal/secret"));

    expect(tags).toEqual([{ name: "v1.0", sha: t.commit }]);
    expect(gerrit.requests[0]).toMatchObject({ path: "/a/projects/internal%2Fsecret/tags/", user: USER, status: 200 });
    expect(hidden).toMatchObject({ kind: "config", status: 404 });
    expect(hidden.hint).toMatch(/internal\/secret.*anonymous users.*project name.*user_env \/ password_env/);
    expect(refused).toMatchObject({ kind: "config", status: 401 });
    expect(refused.hint).toMatch(/user_env \/ password_env.*HTTP password.*Read access/);
    expect(refused.message).not.toContain("login-password");
  });

  it("reads a server with a context path (/r) in the same way", async () => {
    const onap = await FakeGerrit.start({ contextPath: "/r", user: USER, password: PASSWORD });
    try {
      onap.addProject("oom");
      const t = onap.addTag("oom", "15.0.0", { annotated: true });
      const source = new GerritSource({ url: onap.url, auth });

      const tags = await source.listTags("oom");
      const sha = await source.resolveTag("oom", "15.0.0", undefined);
      const visibility = await new GerritSource({ url: `${onap.url}/` }).visibility("oom");

      expect(onap.url).toMatch(/\/r$/);
      expect(tags).toEqual([{ name: "15.0.0", sha: t.commit }]);
      expect(sha).toBe(t.commit);
      expect(visibility).toBe("public");
      expect(onap.requests.map((r) => r.path)).toEqual(["/r/a/projects/oom/tags/", "/r/a/projects/oom/tags/15.0.0", "/r/projects/oom"]);
      expect(onap.problems).toEqual([]);
    } finally {
      await onap.stop();
    }
  });

  it("is public when anonymous users can read the project, private when only the account can, and cannot tell without one", async () => {
    gerrit.addProject("openstack/nova");
    gerrit.addProject("internal/secret", { anonymous: false });
    const withAccount = new GerritSource({ url: gerrit.url, auth });

    const pub = await withAccount.visibility("openstack/nova");
    const priv = await withAccount.visibility("internal/secret");
    const unknown = await failure(withAccount.visibility("no/such-project"));
    const anonymous = await failure(new GerritSource({ url: gerrit.url }).visibility("internal/secret"));

    expect([pub, priv]).toEqual(["public", "private"]);
    expect(gerrit.requests.map((r) => [r.path, r.status, r.user ?? "anonymous"])).toEqual([
      ["/projects/openstack%2Fnova", 200, "anonymous"],
      ["/projects/internal%2Fsecret", 404, "anonymous"],
      ["/a/projects/internal%2Fsecret", 200, USER],
      ["/projects/no%2Fsuch-project", 404, "anonymous"],
      ["/a/projects/no%2Fsuch-project", 404, USER],
      ["/projects/internal%2Fsecret", 404, "anonymous"],
    ]);
    expect(unknown).toMatchObject({ kind: "config", status: 404 });
    expect(unknown.hint).toMatch(/no project no\/such-project .* the account openci-ci: check the map's project name/);
    expect(anonymous.hint).toMatch(/a private project needs user_env \/ password_env/);
  });

  it("classifies errors: 503 and a dropped server transient, 429 rate limited with its Retry-After, a web page config", async () => {
    gerrit.addProject("openstack/nova");
    const source = new GerritSource({ url: gerrit.url });

    gerrit.failNext(503, { text: "Service Unavailable" });
    const down = await failure(source.listTags("openstack/nova"));
    gerrit.failNext(429, { headers: { "retry-after": "30" } });
    const limited = await failure(source.listTags("openstack/nova"));

    const html = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>Sign in</html>"));
    await new Promise<void>((r) => html.listen(0, "127.0.0.1", () => r()));
    const htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
    const page = await failure(new GerritSource({ url: htmlUrl }).listTags("openstack/nova"));
    await new Promise<void>((r) => html.close(() => r()));
    const gone = await failure(new GerritSource({ url: htmlUrl, timeoutMs: 2_000 }).listTags("openstack/nova"));

    expect(down).toMatchObject({ kind: "transient", status: 503 });
    expect(limited).toMatchObject({ kind: "rate_limited", status: 429, retryAfterMs: 30_000 });
    expect(page.kind).toBe("config");
    expect(page.message).toMatch(/did not answer as Gerrit's REST API \(a web page/);
    expect(page.hint).toMatch(/context path/);
    expect(gone.kind).toBe("transient");
    expect(gone.message).toMatch(/network error/);
  });

  it("refuses a URL that is not https (http only on loopback) or carries credentials, before any request", () => {
    expect(gerritBase("https://gerrit.onap.org/r/")).toBe("https://gerrit.onap.org/r");
    expect(() => gerritBase("http://review.opendev.org")).toThrow(/https/);
    expect(() => gerritBase("https://bot:pw@review.opendev.org")).toThrow(/must not carry credentials/);
    expect(() => new GerritSource({ url: "review.opendev.org" })).toThrow(ForgeError);
  });
});

describe("GerritReviews", () => {
  let gerrit: FakeGerrit;
  beforeAll(async () => {
    gerrit = await FakeGerrit.start({ user: USER, password: PASSWORD });
  });
  afterAll(() => gerrit.stop());
  afterEach(() => {
    expect(gerrit.problems).toEqual([]);
    gerrit.requests.length = 0;
    gerrit.reviews.length = 0;
  });

  it("posts one ReviewInput per result: tag autogenerated:openci, notify OWNER on failure and NONE otherwise, a Verified vote only when asked", async () => {
    gerrit.addProject("openstack/nova");
    Object.assign(gerrit.grants, { Verified: [-1, 1] });
    const change = gerrit.addChange("openstack/nova");
    const ps = change.patchSets[0]!;
    const reviews = new GerritReviews({ url: gerrit.url, auth });
    const id = gerritChangeId("openstack/nova", change.number);

    await reviews.review(id, ps.revision, { message: "* openci: kata-containers https://ci.example/1 : FAILURE", failed: true });
    await reviews.review(id, ps.revision, { message: "* openci: kata-containers https://ci.example/2 : FAILURE", failed: true, vote: -1 });
    await reviews.review(id, "1", { message: "* openci: kata-containers https://ci.example/3 : SUCCESS", failed: false, vote: 1 });

    expect(gerrit.reviews.map((r) => [r.patchSet, r.input, r.applied])).toEqual([
      [1, { message: "* openci: kata-containers https://ci.example/1 : FAILURE", tag: "autogenerated:openci", notify: "OWNER" }, {}],
      [1, { message: "* openci: kata-containers https://ci.example/2 : FAILURE", tag: "autogenerated:openci", notify: "OWNER", labels: { Verified: -1 } }, { Verified: -1 }],
      [1, { message: "* openci: kata-containers https://ci.example/3 : SUCCESS", tag: "autogenerated:openci", notify: "NONE", labels: { Verified: 1 } }, { Verified: 1 }],
    ]);
    expect(gerrit.requests.map((r) => [r.method, r.path, r.user])).toEqual([
      ["POST", `/a/changes/openstack%2Fnova~${change.number}/revisions/${ps.revision}/review`, USER],
      ["POST", `/a/changes/openstack%2Fnova~${change.number}/revisions/${ps.revision}/review`, USER],
      ["POST", `/a/changes/openstack%2Fnova~${change.number}/revisions/1/review`, USER],
    ]);
    expect(gerrit.requests[0]!.headers["content-type"]).toMatch(/^application\/json/);
  });

  it("says how to fix a vote the account may not give, a change it cannot see, and wrong credentials; a 502 is transient", async () => {
    gerrit.addProject("openstack/nova");
    for (const k of Object.keys(gerrit.grants)) delete gerrit.grants[k];
    const change = gerrit.addChange("openstack/nova");
    const reviews = new GerritReviews({ url: gerrit.url, auth });
    const id = gerritChangeId("openstack/nova", change.number);

    const restricted = await failure(reviews.review(id, "current", { message: "x", failed: true, vote: -1 }));
    const missing = await failure(reviews.review(gerritChangeId("openstack/nova", 1), "1", { message: "x", failed: true }));
    const refused = await failure(new GerritReviews({ url: gerrit.url, auth: { user: USER, password: "nope" } }).review(id, "1", { message: "x", failed: false }));
    gerrit.failNext(502);
    const down = await failure(reviews.review(id, "1", { message: "x", failed: false }));

    expect(restricted).toMatchObject({ kind: "config", status: 403 });
    expect(restricted.message).toMatch(/Applying label "Verified": -1 is restricted/);
    expect(restricted.hint).toMatch(/may not vote Verified -1.*remove vote: true/);
    expect(missing).toMatchObject({ kind: "config", status: 404 });
    expect(missing.hint).toMatch(/no change openstack\/nova~1 with patch set 1/);
    expect(refused).toMatchObject({ kind: "config", status: 401 });
    expect(refused.hint).toMatch(/user_env \/ password_env/);
    expect(down).toMatchObject({ kind: "transient", status: 502 });
    expect(gerrit.reviews).toEqual([]);
  });
});

describe("the fake Gerrit refuses what Gerrit's docs do not list", () => {
  let gerrit: FakeGerrit;
  beforeAll(async () => {
    gerrit = await FakeGerrit.start({ user: USER, password: PASSWORD });
  });
  afterAll(() => gerrit.stop());

  it("records a problem for an unknown route, query parameter, unencoded project, ReviewInput field or type, and strict_labels", async () => {
    gerrit.addProject("openstack/nova");
    const change = gerrit.addChange("openstack/nova");
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
    const post = (body: unknown) => fetch(`${gerrit.url}/a/changes/${change.number}/revisions/current/review`, {
      method: "POST", headers: { authorization: basic, "content-type": "application/json" }, body: JSON.stringify(body),
    }).then((r) => r.status);

    const statuses = [
      await fetch(`${gerrit.url}/projects/openstack%2Fnova/branches/`).then((r) => r.status),
      await fetch(`${gerrit.url}/projects/openstack%2Fnova/tags/?limit=10`).then((r) => r.status),
      await fetch(`${gerrit.url}/projects/openstack/nova/tags/`).then((r) => r.status),
      await post({ message: "m", strict_labels: false }),
      await post({ message: "m", notify: "EVERYONE" }),
      await post({ message: "m", labels: { Verified: "-1" } }),
      await post({ message: "m", labelz: {} }),
    ];

    expect(statuses).toEqual([404, 400, 404, 400, 400, 400, 400]);
    expect(gerrit.problems).toEqual([
      expect.stringMatching(/branches\/: not a documented route/),
      expect.stringMatching(/'limit' is not a List Tags option/),
      expect.stringMatching(/openstack\/nova\/tags\/: not a documented route/),
      expect.stringMatching(/'strict_labels' is not a ReviewInput field since Gerrit 2\.15/),
      expect.stringMatching(/'notify' must be one of NONE, OWNER, OWNER_REVIEWERS, ALL/),
      expect.stringMatching(/'labels' 'Verified' must be a vote, an integer/),
      expect.stringMatching(/'labelz' is not a ReviewInput field/),
    ]);
    expect(gerrit.reviews).toEqual([]);
  });
});
