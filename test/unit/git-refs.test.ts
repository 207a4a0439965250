import { useLoopbackServers } from "../helpers/loopback-server.js";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { IncomingMessage, ServerResponse } from "node:http";
import { ForgeError } from "../../src/forge/errors.js";
import { freePort } from "../../src/util/free-port.js";
import { listGitTags, type GitTags } from "../../src/watch/git-refs.js";
import { git, startGitHttpServer, type GitHttpServer } from "../helpers/git-http-server.js";

/** The rejection of `p`, which must be a ForgeError. */
async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

const tagsOf = (r: GitTags) => (r.notModified ? undefined : r.tags);

describe("listGitTags against git's own http-backend", () => {
  let server: GitHttpServer;
  beforeAll(async () => {
    server = await startGitHttpServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("reads lightweight and annotated tags, an annotated one as the commit it peels to, with one GET", async () => {
    const repo = await server.createRepo("mixed");
    const c1 = await repo.commit();
    const c2 = await repo.commit();
    await repo.tag("v1.0.0", c1);
    const tagObject = await repo.annotatedTag("v2.0.0", c2);
    await repo.annotatedTag("v2.0.0-nested", "v2.0.0"); // a tag of a tag: git peels it all the way
    const before = server.requests.length;

    const result = await listGitTags(repo.url);

    expect(result).toEqual({
      notModified: false,
      etag: undefined,
      tags: [{ name: "v1.0.0", sha: c1 }, { name: "v2.0.0", sha: c2 }, { name: "v2.0.0-nested", sha: c2 }],
    });
    expect(tagObject).not.toBe(c2);
    expect(server.requests.slice(before)).toEqual([
      expect.objectContaining({ method: "GET", path: "/mixed.git/info/refs", query: "service=git-upload-pack", status: 200 }),
    ]);
    expect(server.requests[before]!.headers["user-agent"]).toBe("openci-relay");
    expect(server.requests[before]!.headers["git-protocol"]).toBeUndefined();
  });

  it("agrees with `git ls-remote` on 300 tags, half of them annotated", async () => {
    const repo = await server.createRepo("many");
    const c1 = await repo.commit();
    const c2 = await repo.commit();
    const light = Array.from({ length: 150 }, (_, i) => `v1.${i}`);
    const annotated = Array.from({ length: 150 }, (_, i) => `v2.${i}`);
    await repo.tags(light, c1);
    await repo.annotatedTags(annotated, c2);
    const lsRemote = new Map<string, string>();
    for (const l of (await git(server.root, ["ls-remote", "--tags", repo.url])).split("\n")) {
      const [sha, ref] = l.split("\t") as [string, string];
      lsRemote.set(ref.replace(/^refs\/tags\//, "").replace(/\^\{\}$/, ""), sha); // the peeled line comes after its tag
    }

    const tags = tagsOf(await listGitTags(repo.url))!;

    expect(tags).toHaveLength(300);
    expect(new Map(tags.map((t) => [t.name, t.sha]))).toEqual(lsRemote);
    expect(new Set(tags.filter((t) => t.name.startsWith("v1.")).map((t) => t.sha))).toEqual(new Set([c1]));
    expect(new Set(tags.filter((t) => t.name.startsWith("v2.")).map((t) => t.sha))).toEqual(new Set([c2]));
  });

  it("sees a tag moved to another commit, lightweight or annotated, and a deleted tag gone", async () => {
    const repo = await server.createRepo("moving");
    const c1 = await repo.commit();
    const c2 = await repo.commit();
    await repo.tag("light", c1);
    await repo.annotatedTag("heavy", c1);
    await repo.tag("doomed", c1);
    const first = tagsOf(await listGitTags(repo.url));

    await repo.moveTag("light", c2);
    await repo.moveTag("heavy", c2, true);
    await repo.deleteTag("doomed");
    const second = tagsOf(await listGitTags(repo.url));

    expect(first).toEqual([{ name: "doomed", sha: c1 }, { name: "heavy", sha: c1 }, { name: "light", sha: c1 }]);
    expect(second).toEqual([{ name: "heavy", sha: c2 }, { name: "light", sha: c2 }]);
  });

  it("reads an empty repository (git < 2.41 advertises no ref at all, later git `capabilities^{}`) and one with branches only as no tags", async () => {
    const empty = await server.createRepo("empty");
    const branchesOnly = await server.createRepo("branches");
    const c = await branchesOnly.commit();
    await branchesOnly.git(["update-ref", "refs/heads/dev", c]);

    const results = [await listGitTags(empty.url), await listGitTags(branchesOnly.url)];

    expect(results).toEqual([{ notModified: false, etag: undefined, tags: [] }, { notModified: false, etag: undefined, tags: [] }]);
  });

  it("reads a SHA-256 repository's 64-digit ids", async () => {
    const repo = await server.createRepo("sha256", { objectFormat: "sha256" });
    const c = await repo.commit();
    await repo.tag("light", c);
    await repo.annotatedTag("heavy", c);

    const tags = tagsOf(await listGitTags(repo.url));

    expect(c).toMatch(/^[0-9a-f]{64}$/);
    expect(tags).toEqual([{ name: "heavy", sha: c }, { name: "light", sha: c }]);
  });

  it("takes the URL with trailing slashes", async () => {
    const repo = await server.createRepo("slash");
    await repo.tag("v1", await repo.commit());

    const tags = tagsOf(await listGitTags(`${repo.url}//`));

    expect(tags).toHaveLength(1);
    expect(server.requests.at(-1)).toMatchObject({ path: "/slash.git/info/refs", status: 200 });
  });

  it("says there is no git repository at a URL the backend answers 404", async () => {
    const url = `${server.base}/missing.git`;

    const err = await failure(listGitTags(url));

    expect(err).toMatchObject({ kind: "config", status: 404, message: `no git repository at ${url} (404)` });
    expect(err.hint).toContain("git clone");
  });

  it("says the repository must be public when the backend refuses (403: upload-pack disabled)", async () => {
    const repo = await server.createRepo("closed");
    await repo.git(["config", "http.uploadpack", "false"]);

    const err = await failure(listGitTags(repo.url));

    expect(err).toMatchObject({ kind: "config", status: 403 });
    expect(err.hint).toContain("must be public");
    expect(server.requests.at(-1)).toMatchObject({ path: "/closed.git/info/refs", status: 403 });
  });

  it("refuses a dumb-HTTP host (the same repository as static files) and says what it needs", async () => {
    const repo = await server.createRepo("dumb");
    await repo.tag("v1", await repo.commit());
    const url = await server.dumbUrl(repo);

    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("config");
    expect(err.message).toContain("does not speak git's smart HTTP protocol (content type text/plain");
    expect(err.hint).toContain("dumb HTTP");
    expect(server.requests.at(-1)).toMatchObject({ path: "/dumb/dumb.git/info/refs", status: 200 }); // a static server ignores ?service=
  });

  it("stops reading an advertisement larger than maxBytes", async () => {
    const repo = await server.createRepo("big");
    await repo.tags(Array.from({ length: 300 }, (_, i) => `release-${i}`), await repo.commit());

    const err = await failure(listGitTags(repo.url, { maxBytes: 4096 }));

    expect(err.kind).toBe("config");
    expect(err.message).toContain("is larger than 4096 bytes");
    expect(err.hint).toContain("too many refs");
  });

  it("uses ETags where a caching proxy sends them: 304 on no change, the new list after a new tag", async () => {
    const cached = await startGitHttpServer({ etags: true });
    try {
      const repo = await cached.createRepo("cached");
      const c = await repo.commit();
      await repo.tag("v1", c);
      const first = await listGitTags(repo.url);
      const etag = first.etag!;

      const unchanged = await listGitTags(repo.url, { etag });
      await repo.tag("v2", c);
      const changed = await listGitTags(repo.url, { etag });

      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(unchanged).toEqual({ notModified: true, etag });
      expect(changed).toEqual({ notModified: false, etag: expect.not.stringMatching(etag), tags: [{ name: "v1", sha: c }, { name: "v2", sha: c }] });
      expect(cached.requests.map((r) => [r.headers["if-none-match"], r.status])).toEqual([[undefined, 200], [etag, 304], [etag, 200]]);
    } finally {
      await cached.stop();
    }
  });

  it.each([
    ["ftp://example.org/repo.git", "only http(s)"],
    ["git://example.org/repo.git", "only http(s)"],
    ["ssh://git@example.org/repo.git", "only http(s)"],
    ["file:///srv/git/repo.git", "only http(s)"],
    ["example.org/repo.git", "is not a URL"],
    ["https://example.org/repo.git?x=1", "no ?query or #fragment"],
    ["https://example.org/repo.git#main", "no ?query or #fragment"],
  ])("refuses %s before any request", async (url, said) => {
    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("config");
    expect(err.message).toContain(said);
  });

  it("refuses a URL with credentials without sending them", async () => {
    const before = server.requests.length;

    const err = await failure(listGitTags(server.base.replace("http://", "http://user:secret@") + "/mixed.git"));

    expect(err.kind).toBe("config");
    expect(err.message).not.toContain("secret");
    expect(server.requests.length).toBe(before);
  });
});

describe("listGitTags against servers that are not git, or not well", () => {
  const origin = useLoopbackServers();
  /** A loopback server answering every request with `handler`; resolves to a repository URL on it. */
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => `${await origin(handler)}/repo.git`;
  const ADVERTISEMENT = "application/x-git-upload-pack-advertisement";
  const answering = (body: string | Buffer) => serve((_req, res) => res.writeHead(200, { "Content-Type": ADVERTISEMENT }).end(body));
  /** one pkt-line: its length in 4 hex digits (the 4 included), then the payload */
  const pkt = (s: string) => `${(Buffer.byteLength(s) + 4).toString(16).padStart(4, "0")}${s}`;
  const SERVICE = `${pkt("# service=git-upload-pack\n")}0000`;
  const CAPS = "\0multi_ack thin-pack side-band side-band-64k ofs-delta agent=git/2.45.0";
  const A = "a".repeat(40);
  const B = "b".repeat(40);
  const advert = (...lines: string[]) => `${SERVICE}${lines.map((l) => pkt(`${l}\n`)).join("")}0000`;

  it("reads well-formed variants: git ≥ 2.41's empty list, `version 1`, no flush after the service line, HEAD, branches, shallow, upper-case ids", async () => {
    const empty = await answering(advert(`${"0".repeat(40)} capabilities^{}${CAPS}`));
    const v1 = await answering(`${pkt("# service=git-upload-pack\n")}${pkt("version 1\n")}${pkt(`${A} HEAD${CAPS}\n`)}${pkt(`${A} refs/heads/main\n`)}${pkt(`${B.toUpperCase()} refs/tags/v1\n`)}${pkt(`${A} refs/tags/v1^{}\n`)}${pkt(`shallow ${B}\n`)}0000`);

    const results = [tagsOf(await listGitTags(empty)), tagsOf(await listGitTags(v1))];

    expect(results).toEqual([[], [{ name: "v1", sha: A }]]);
  });

  it("says a URL that answers with a web page (a login page, a project's home) is not a git repository", async () => {
    const url = await serve((_req, res) => res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end("<!doctype html><title>Sign in</title>"));

    const err = await failure(listGitTags(url));

    expect(err).toMatchObject({ kind: "config", message: `reading the tags of ${url}: ${url} answers with a web page (text/html), not a git repository` });
    expect(err.hint).toContain("git clone");
    expect(err.hint).toContain("login page");
  });

  it("asks for a public repository on 401", async () => {
    const url = await serve((_req, res) => res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end());

    const err = await failure(listGitTags(url));

    expect(err).toMatchObject({ kind: "config", status: 401 });
    expect(err.hint).toContain("must be public");
  });

  it.each([
    [502, "transient", {}, undefined],
    [503, "transient", {}, undefined],
    [429, "rate_limited", { "Retry-After": "30" }, 30_000],
    [400, "config", {}, undefined],
  ])("classifies %i as %s", async (status, kind, headers, retryAfterMs) => {
    const url = await serve((_req, res) => res.writeHead(status, headers).end("no"));

    const err = await failure(listGitTags(url));

    expect(err).toMatchObject({ kind, status, retryAfterMs });
  });

  it("calls a refused connection transient", async () => {
    const url = `http://127.0.0.1:${await freePort()}/repo.git`;

    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("transient");
    expect(err.message).toContain("network error (ECONNREFUSED)");
  });

  it.each([
    ["never answers", (_req: IncomingMessage, _res: ServerResponse) => undefined],
    ["stops in the middle of the body", (_req: IncomingMessage, res: ServerResponse) => void res.writeHead(200, { "Content-Type": ADVERTISEMENT }).write(SERVICE)],
  ])("gives up on a server that %s after timeoutMs", async (_what, handler) => {
    const url = await serve(handler);
    const started = Date.now();

    const err = await failure(listGitTags(url, { timeoutMs: 300 }));

    expect(err).toMatchObject({ kind: "transient", message: `reading the tags of ${url}: no complete answer within 300 ms` });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("throws the caller's own abort reason as it is", async () => {
    const url = await serve(() => undefined);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    setTimeout(() => controller.abort(reason), 50);

    const err = await listGitTags(url, { signal: controller.signal }).then(() => undefined, (e: unknown) => e);

    expect(err).toBe(reason);
  });

  it("stops reading an endless body at maxBytes", async () => {
    const chunk = pkt(`${A} refs/heads/${"x".repeat(200)}\n`).repeat(100);
    const url = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": ADVERTISEMENT }).write(SERVICE);
      const timer = setInterval(() => res.write(chunk), 1);
      res.on("close", () => clearInterval(timer));
    });

    const err = await failure(listGitTags(url, { maxBytes: 1024 * 1024 }));

    expect(err.kind).toBe("config");
    expect(err.message).toContain("is larger than 1048576 bytes");
  });

  it("refuses at once a declared Content-Length over the default 32 MiB", async () => {
    const url = await serve((_req, res) => void res.writeHead(200, { "Content-Type": ADVERTISEMENT, "Content-Length": String(32 * 1024 * 1024 + 1) }).write(SERVICE));

    const err = await failure(listGitTags(url));

    expect(err.message).toContain("is larger than 33554432 bytes");
  });

  it.each([
    ["ends before the final flush", `${SERVICE}${pkt(`${A} refs/tags/v1${CAPS}\n`)}`, "ends before the final flush-pkt"],
    ["ends inside a pkt-line", `${SERVICE}${pkt(`${A} refs/tags/v1${CAPS}\n`).slice(0, 30)}`, "ends inside a pkt-line"],
    ["is empty", "", "ends before the final flush-pkt"],
  ])("calls an answer that %s transient (a cut connection)", async (_what, body, said) => {
    const url = await answering(body);

    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("transient");
    expect(err.message).toContain(said);
  });

  it("calls a connection reset mid-answer transient", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "Content-Type": ADVERTISEMENT }).write(SERVICE);
      setTimeout(() => res.socket?.destroy(), 20);
    });

    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("transient");
  });

  it.each([
    ["as its first packet", pkt("ERR access denied or repository not exported: /srv/repo.git\n")],
    ["after the service line", `${SERVICE}${pkt("ERR access denied or repository not exported: /srv/repo.git\n")}0000`],
  ])("reports the server's ERR packet %s in its own words", async (_where, body) => {
    const url = await answering(body);

    const err = await failure(listGitTags(url));

    expect(err).toMatchObject({ kind: "config", message: `reading the tags of ${url}: the server refused: access denied or repository not exported: /srv/repo.git` });
  });

  it.each([
    ["text that is not pkt-lines", "hello, world", 'bad pkt-line length "hell"'],
    ["a protocol v2 answer", `${pkt("version 2\n")}${pkt("ls-refs\n")}0000`, "does not start with the `# service=git-upload-pack` line"],
    ["the receive-pack service", advert(`${A} refs/tags/v1${CAPS}`).replace(pkt("# service=git-upload-pack\n"), pkt("# service=git-receive-pack\n")), "not service=git-upload-pack"],
    ["a v2 delimiter packet", `${SERVICE}0001${pkt(`${A} refs/tags/v1\n`)}0000`, "a protocol v2 delimiter"],
    ["a length over 65520", `${SERVICE}fff5${"x".repeat(65521)}0000`, "over the protocol's 65520"],
    ["an id that is not hex", advert(`${"g".repeat(40)} refs/tags/v1${CAPS}`), "not \"<40 hex digits> <ref>\""],
    ["an id one digit short", advert(`${A.slice(1)} refs/tags/v1${CAPS}`), "not \"<40 hex digits> <ref>\""],
    ["a SHA-256 id without object-format=sha256", advert(`${"c".repeat(64)} refs/tags/v1${CAPS}`), "not \"<40 hex digits> <ref>\""],
    ["a ref line without a name", advert(`${A}${CAPS}`), "not \"<40 hex digits> <ref>\""],
    ["capabilities on a later line", advert(`${A} refs/heads/main${CAPS}`, `${A} refs/tags/v1${CAPS}`), "capabilities (after a NUL) on a ref line other than the first"],
    ["a peeled line without its tag", advert(`${A} refs/tags/v1${CAPS}`, `${B} refs/tags/v2^{}`), "refs/tags/v2^{} does not follow refs/tags/v2"],
    ["a tag name with a space", advert(`${A} refs/tags/v1 beta${CAPS}`), 'invalid tag name "v1 beta"'],
    ["a tag name with ..", advert(`${A} refs/tags/v1..2${CAPS}`), 'invalid tag name "v1..2"'],
    ["a tag name ending in .lock", advert(`${A} refs/tags/v1.lock${CAPS}`), 'invalid tag name "v1.lock"'],
    ["an empty tag name", advert(`${A} refs/tags/${CAPS}`), 'invalid tag name ""'],
    ["a tag advertised twice", advert(`${A} refs/tags/v1${CAPS}`, `${B} refs/tags/v1`), "refs/tags/v1 is advertised twice"],
    ["a tag on the zero id", advert(`${"0".repeat(40)} refs/tags/v1${CAPS}`), "refs/tags/v1 names the zero id"],
    ["data after the final flush", `${advert(`${A} refs/tags/v1${CAPS}`)}${pkt("more\n")}`, "data after the final flush-pkt"],
  ])("refuses %s as a broken advertisement", async (_what, body, said) => {
    const url = await answering(body);

    const err = await failure(listGitTags(url));

    expect(err.kind).toBe("config");
    expect(err.message.startsWith(`reading the tags of ${url}: not a valid git ref advertisement: `)).toBe(true);
    expect(err.message).toContain(said);
  });
});
