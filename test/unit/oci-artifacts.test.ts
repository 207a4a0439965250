import { useLoopbackServers } from "../helpers/loopback-server.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { createHash } from "node:crypto";
import { digestCid, MANIFEST_MEDIA_TYPES, ociArtifactPublished, ociImageOf, ociImagePublished, OciTokens, parseChallenges, type OciImage, type OciPublication } from "../../src/artifacts/oci.js";
import { artifactForTag, parseArtifact, parsePurl } from "../../src/artifacts/purl.js";
import { ForgeError } from "../../src/forge/errors.js";
import { freePort } from "../../src/util/free-port.js";
import { MEDIA_TYPES, startOciRegistry, type ImageFormat, type OciRegistry } from "../helpers/oci-registry.js";
import { waitFor } from "../helpers/wait-for.js";

/** The rejection of `p`, which must be a ForgeError. */
async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

/** The CID a digest's bytes get from multiformats' own hasher: what the history will link to. */
async function cidOfBytes(bytes: Uint8Array): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(bytes)).toString();
}

const ACCEPT = MANIFEST_MEDIA_TYPES.join(", ");
const published = (r: OciPublication) => (r.published ? r : undefined);

describe("ociImagePublished against a real registry (docker-registry 2.8, no auth)", () => {
  let registry: OciRegistry;
  const image = (repository: string, reference: string): OciImage => ({ registry: registry.base, repository, reference });
  beforeAll(async () => {
    registry = await startOciRegistry();
  });
  afterAll(async () => {
    await registry.stop();
  });

  it("answers not published for an unknown repository and for an unknown tag, with one HEAD each asking for the four manifest types", async () => {
    await registry.push("known/app", "v1");
    const before = registry.requests.length;

    const results = [await ociImagePublished(image("never/pushed", "v1")), await ociImagePublished(image("known/app", "v2"))];

    expect(results).toEqual([{ published: false }, { published: false }]);
    expect(registry.requests.slice(before)).toEqual([
      expect.objectContaining({ method: "HEAD", path: "/v2/never/pushed/manifests/v1", status: 404 }),
      expect.objectContaining({ method: "HEAD", path: "/v2/known/app/manifests/v2", status: 404 }),
    ]);
    expect(registry.requests.slice(before).map((r) => [r.headers.accept, r.headers["user-agent"], r.headers.authorization])).toEqual([
      [ACCEPT, "openci-relay", undefined],
      [ACCEPT, "openci-relay", undefined],
    ]);
  });

  it("sees a tag pushed while it waits: not published, then published with the registry's digest and its CID", async () => {
    const waited: OciPublication[] = [];
    const waiting = (async () => {
      for (;;) {
        const r = await ociImagePublished(image("waits/app", "v1.0.0"));
        waited.push(r);
        if (r.published) return r;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    await waitFor("two answers before the push", () => waited.length >= 2);

    const pushed = await registry.push("waits/app", "v1.0.0");
    const result = published(await waiting)!;

    expect(waited.length).toBeGreaterThan(2);
    expect(waited.slice(0, -1).every((r) => !r.published)).toBe(true);
    expect(result.digest).toBe(pushed.digest);
    expect(pushed.digest).toBe(pushed.computedDigest);
    expect(result.mediaType).toBe(MEDIA_TYPES.oci);
    expect(result.cid!.toString()).toBe(await cidOfBytes(pushed.manifest));
    expect(result.cid!.code).toBe(0x55);
    expect(result.cid!.multihash.code).toBe(0x12);
    expect(result.cid!.toString()).toMatch(/^bafkrei/);
  });

  it.each<[ImageFormat]>([["oci"], ["docker"], ["oci-index"], ["docker-list"]])("answers an image pushed as %s as itself: its own digest and media type", async (format) => {
    const pushed = await registry.push("formats/app", format, format);

    const result = published(await ociImagePublished(image("formats/app", format)))!;

    expect(result).toEqual({ published: true, digest: pushed.digest, cid: expect.anything(), mediaType: MEDIA_TYPES[format] });
    expect(result.cid!.toString()).toBe(await cidOfBytes(pushed.manifest));
  });

  it("needs its Accept: with Docker v2 alone the registry hides an OCI index and rewrites a Docker list to its amd64 manifest", async () => {
    const index = await registry.push("accept/app", "index", "oci-index");
    const list = await registry.push("accept/app", "list", "docker-list");
    const narrow = (tag: string) => fetch(`${registry.base}/v2/accept/app/manifests/${tag}`, { method: "HEAD", headers: { Accept: MEDIA_TYPES.docker } });

    const [indexNarrow, listNarrow] = [await narrow("index"), await narrow("list")];
    const [indexOurs, listOurs] = [await ociImagePublished(image("accept/app", "index")), await ociImagePublished(image("accept/app", "list"))];

    expect(indexNarrow.status).toBe(404);
    expect(listNarrow.headers.get("docker-content-digest")).toBe(list.child);
    expect(published(indexOurs)?.digest).toBe(index.digest);
    expect(published(listOurs)?.digest).toBe(list.digest);
    expect(list.digest).not.toBe(list.child);
  });

  it("finds an index's image manifest by its digest, the digest being the reference", async () => {
    const pushed = await registry.push("bydigest/app", "v2", "oci-index");
    const before = registry.requests.length;

    const result = await ociImagePublished(image("bydigest/app", pushed.child!));
    const missing = await ociImagePublished(image("bydigest/app", `sha256:${"0".repeat(64)}`));

    expect(result).toEqual({ published: true, digest: pushed.child, cid: digestCid(pushed.child!), mediaType: MEDIA_TYPES.oci });
    expect(missing).toEqual({ published: false });
    expect(registry.requests.slice(before).map((r) => [r.method, r.path])).toEqual([
      ["HEAD", `/v2/bydigest/app/manifests/${pushed.child}`],
      ["HEAD", `/v2/bydigest/app/manifests/sha256:${"0".repeat(64)}`],
    ]);
  });

  it("checks a release's package URL whose repository has three path segments", async () => {
    const template = parseArtifact(`pkg:oci/app@{tag}?repository_url=http://${registry.host}/org/team/app`);
    const purl = artifactForTag(template, "v3.1.4");
    const before = await ociArtifactPublished(purl);

    const pushed = await registry.push("org/team/app", "v3.1.4");
    const after = await ociArtifactPublished(purl);

    expect(before).toEqual({ published: false });
    expect(published(after)?.digest).toBe(pushed.digest);
    expect(registry.requests.at(-1)).toMatchObject({ method: "HEAD", path: "/v2/org/team/app/manifests/v3.1.4", status: 200 });
  });

  it("gives up on a registry that accepts the connection and answers nothing (stopped with SIGSTOP) after timeoutMs", async () => {
    await registry.push("slow/app", "v1");
    registry.pause();
    try {
      const started = Date.now();

      const err = await failure(ociImagePublished(image("slow/app", "v1"), { timeoutMs: 300 }));

      expect(err).toMatchObject({ kind: "transient", message: `checking ${registry.host}/slow/app:v1: no complete answer within 300 ms` });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      registry.resume();
    }
  });

  it("throws the caller's own abort reason as it is", async () => {
    registry.pause();
    try {
      const controller = new AbortController();
      const reason = new Error("shutting down");
      setTimeout(() => controller.abort(reason), 50);

      const err = await ociImagePublished(image("slow/app", "v1"), { signal: controller.signal }).then(() => undefined, (e: unknown) => e);

      expect(err).toBe(reason);
    } finally {
      registry.resume();
    }
  });
});

describe("ociImagePublished against a registry that is down", () => {
  it("calls the refused connection of a registry that answered a moment ago transient", async () => {
    const first = await startOciRegistry();
    const pushed = await first.push("down/app", "v1");
    const img: OciImage = { registry: first.base, repository: "down/app", reference: "v1" };
    const up = await ociImagePublished(img);
    await first.stop();

    const err = await failure(ociImagePublished(img));

    expect(published(up)?.digest).toBe(pushed.digest);
    expect(err.kind).toBe("transient");
    expect(err.message).toBe(`checking ${first.host}/down/app:v1: network error (ECONNREFUSED)`);
  });
});

describe("ociImagePublished with the registry's token authentication (anonymous bearer tokens)", () => {
  let registry: OciRegistry;
  const image = (repository: string, reference: string): OciImage => ({ registry: registry.base, repository, reference });
  beforeAll(async () => {
    registry = await startOciRegistry({ auth: "token", privateRepositories: ["org/private"] });
  });
  afterAll(async () => {
    await registry.stop();
  });
  afterEach(() => {
    registry.failTokens(undefined);
  });
  const claims = (authorization: string | undefined) => JSON.parse(Buffer.from(authorization!.replace(/^Bearer /, "").split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;

  it("answers the 401 challenge: an anonymous token for the challenge's service and scope, then the HEAD again with it", async () => {
    const pushed = await registry.push("org/app", "v1");
    const [before, tokensBefore] = [registry.requests.length, registry.tokenRequests.length];

    const result = await ociImagePublished(image("org/app", "v1"));

    expect(published(result)?.digest).toBe(pushed.digest);
    const seen = registry.requests.slice(before);
    expect(seen.map((r) => [r.method, r.path, r.status, r.headers.authorization === undefined])).toEqual([
      ["HEAD", "/v2/org/app/manifests/v1", 401, true],
      ["HEAD", "/v2/org/app/manifests/v1", 200, false],
    ]);
    const tokenAsked = registry.tokenRequests.slice(tokensBefore);
    expect(tokenAsked).toHaveLength(1);
    expect(tokenAsked[0]).toMatchObject({ method: "GET", path: "/token", status: 200 });
    expect(Object.fromEntries(new URLSearchParams(tokenAsked[0]!.query))).toEqual({ service: registry.service, scope: "repository:org/app:pull" });
    expect(tokenAsked[0]!.headers.authorization).toBeUndefined();
    expect(claims(seen[1]!.headers.authorization)).toMatchObject({ aud: registry.service, sub: "", access: [{ type: "repository", name: "org/app", actions: ["pull"] }] });
  });

  it("answers not published through the same flow", async () => {
    const before = registry.requests.length;

    const result = await ociImagePublished(image("org/app", "v404"));

    expect(result).toEqual({ published: false });
    expect(registry.requests.slice(before).map((r) => r.status)).toEqual([401, 404]);
  });

  it("keeps the token in OciTokens: the next check is one HEAD, and a token the registry no longer takes is replaced", async () => {
    await registry.push("org/cached", "v1");
    const tokens = new OciTokens();
    await ociImagePublished(image("org/cached", "v1"), { tokens });
    const [before, tokensBefore] = [registry.requests.length, registry.tokenRequests.length];

    const again = await ociImagePublished(image("org/cached", "v1"), { tokens });
    const afterCached = [registry.requests.length - before, registry.tokenRequests.length - tokensBefore];
    tokens.set(registry.base, "org/cached", "not-a-jwt", 60_000);
    const replaced = await ociImagePublished(image("org/cached", "v1"), { tokens });

    expect(again.published).toBe(true);
    expect(afterCached).toEqual([1, 0]);
    expect(replaced.published).toBe(true);
    expect(registry.requests.slice(-2).map((r) => r.status)).toEqual([401, 200]);
    expect(tokens.get(registry.base, "org/cached")).not.toBe("not-a-jwt");
    expect(tokens.size).toBe(1);
  });

  it("says a repository whose token grants no pull is not public, and keeps no token for it", async () => {
    const tokens = new OciTokens();

    const err = await failure(ociImagePublished(image("org/private", "v1"), { tokens }));

    expect(err).toMatchObject({ kind: "config", status: 401, message: `checking ${registry.host}/org/private:v1: the registry refuses anonymous pulls of org/private, even with a token from its token service` });
    expect(err.hint).toContain("public images only");
    expect(tokens.size).toBe(0);
  });

  it.each([
    [503, "transient", undefined],
    [401, "config", "refuses an anonymous token (401)"],
    [403, "config", "refuses an anonymous token (403)"],
  ])("classifies a token service answering %i as %s", async (status, kind, said) => {
    registry.failTokens(status);

    const err = await failure(ociImagePublished(image("org/app", "v1")));

    expect(err).toMatchObject({ kind, status });
    if (said) expect(err.message).toContain(said);
  });
});

describe("ociImagePublished with a registry that wants a password (htpasswd: a Basic challenge)", () => {
  it("says it asks for credentials and offers no anonymous token", async () => {
    const registry = await startOciRegistry({ auth: "basic" });
    try {
      const err = await failure(ociImagePublished({ registry: registry.base, repository: "org/app", reference: "v1" }));

      expect(err).toMatchObject({
        kind: "config",
        status: 401,
        message: `checking ${registry.host}/org/app:v1: the registry asks for credentials (WWW-Authenticate: Basic realm="openci-test") and offers no anonymous token`,
      });
      expect(err.hint).toContain("public images only");
      expect(registry.requests.map((r) => [r.method, r.status])).toEqual([["HEAD", 401]]);
    } finally {
      await registry.stop();
    }
  });
});

describe("ociImagePublished against servers that are not registries, or not well", () => {
  const serve = useLoopbackServers();
  const DIGEST = `sha256:${"ab".repeat(32)}`;

  it("says a 401 without any challenge leaves it nothing to answer", async () => {
    const base = await serve((_req, res) => res.writeHead(401).end());

    const err = await failure(ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }));

    expect(err).toMatchObject({ kind: "config", status: 401, message: `checking ${base.slice(7)}/org/app:v1: 401 without a WWW-Authenticate challenge` });
    expect(err.hint).toContain("public images only");
  });

  it("refuses a token realm over plain http on another host, without asking it", async () => {
    const base = await serve((_req, res) => res.writeHead(401, { "WWW-Authenticate": 'Bearer realm="http://auth.example.org/token",service="x"' }).end());

    const err = await failure(ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }));

    expect(err).toMatchObject({ kind: "config", message: `checking ${base.slice(7)}/org/app:v1: the registry's token service http://auth.example.org is not https` });
  });

  it("follows a redirect on the same scheme, and sends the token to the first origin only", async () => {
    const seen: (string | undefined)[] = [];
    const target = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "Docker-Content-Digest": DIGEST, "Content-Type": MEDIA_TYPES.oci }).end();
    });
    const base = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(307, { Location: `${target}${req.url}` }).end();
    });
    const tokens = new OciTokens();
    tokens.set(base, "org/app", "secret-token", 60_000);

    const result = await ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }, { tokens });

    expect(result).toEqual({ published: true, digest: DIGEST, cid: digestCid(DIGEST), mediaType: MEDIA_TYPES.oci });
    expect(seen).toEqual(["Bearer secret-token", undefined]);
  });

  it("refuses a redirect to another scheme", async () => {
    const base = await serve((req, res) => res.writeHead(302, { Location: `https://127.0.0.1:1${req.url}` }).end());

    const err = await failure(ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }));

    expect(err.kind).toBe("config");
    expect(err.message).toContain("redirects from http:// to https://127.0.0.1:1");
    expect(err.hint).toContain("same scheme only");
  });

  it("hashes the manifest itself where a HEAD names no digest", async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.oci }));
    const methods: string[] = [];
    const base = await serve((req, res) => {
      methods.push(req.method!);
      res.writeHead(200, { "Content-Type": MEDIA_TYPES.oci, "Content-Length": manifest.length }).end(req.method === "GET" ? manifest : undefined);
    });

    const result = published(await ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }))!;

    expect(methods).toEqual(["HEAD", "GET"]);
    expect(result.cid!.toString()).toBe(await cidOfBytes(manifest));
  });

  it.each([
    [503, "transient", {}, undefined],
    [500, "transient", {}, undefined],
    [429, "rate_limited", { "Retry-After": "30" }, 30_000],
    [403, "config", {}, undefined],
    [400, "config", {}, undefined],
  ])("classifies %i as %s", async (status, kind, headers, retryAfterMs) => {
    const base = await serve((_req, res) => res.writeHead(status, headers).end());

    const err = await failure(ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }));

    expect(err).toMatchObject({ kind, status, retryAfterMs });
  });

  it("calls a refused connection transient", async () => {
    const base = `http://127.0.0.1:${await freePort()}`;

    const err = await failure(ociImagePublished({ registry: base, repository: "org/app", reference: "v1" }));

    expect(err).toMatchObject({ kind: "transient", message: `checking ${base.slice(7)}/org/app:v1: network error (ECONNREFUSED)` });
  });

  it.each([
    [{ registry: "http://registry.example.org", repository: "org/app", reference: "v1" }, "must be reached over https (http only on loopback)"],
    [{ registry: "ftp://127.0.0.1", repository: "org/app", reference: "v1" }, "must be reached over https"],
    [{ registry: "not a url", repository: "org/app", reference: "v1" }, "is not a URL"],
    [{ registry: "https://ghcr.io", repository: "Org/App", reference: "v1" }, '"Org/App" is not an OCI repository name'],
    [{ registry: "https://ghcr.io", repository: "org//app", reference: "v1" }, '"org//app" is not an OCI repository name'],
    [{ registry: "https://ghcr.io", repository: "org/app", reference: "-v1" }, '"-v1" is neither an OCI tag nor a digest'],
    [{ registry: "https://ghcr.io", repository: "org/app", reference: "release/1.0" }, "is neither an OCI tag nor a digest"],
  ])("refuses %j before any request", async (img, said) => {
    const err = await failure(ociImagePublished(img));

    expect(err.kind).toBe("config");
    expect(err.message).toContain(said);
  });
});

describe("ociImageOf: where an oci package URL's image is", () => {
  it.each([
    ["pkg:oci/debian@bookworm?repository_url=docker.io/debian", { registry: "https://registry-1.docker.io", repository: "library/debian", reference: "bookworm" }],
    ["pkg:oci/debian@bookworm?repository_url=docker.io/library/debian", { registry: "https://registry-1.docker.io", repository: "library/debian", reference: "bookworm" }],
    ["pkg:oci/debian@bookworm?repository_url=docker.io", { registry: "https://registry-1.docker.io", repository: "library/debian", reference: "bookworm" }],
    ["pkg:oci/redis@7?repository_url=index.docker.io/bitnami/redis", { registry: "https://registry-1.docker.io", repository: "bitnami/redis", reference: "7" }],
    ["pkg:oci/app@v1?repository_url=registry.hub.docker.com/org/app", { registry: "https://registry-1.docker.io", repository: "org/app", reference: "v1" }],
    ["pkg:oci/static@latest?repository_url=gcr.io/distroless/static", { registry: "https://gcr.io", repository: "distroless/static", reference: "latest" }],
    ["pkg:oci/app@v1?repository_url=ghcr.io", { registry: "https://ghcr.io", repository: "app", reference: "v1" }],
    ["pkg:oci/app@sha256%3A" + "c".repeat(64) + "?repository_url=http://127.0.0.1:5000/a/b/app", { registry: "http://127.0.0.1:5000", repository: "a/b/app", reference: `sha256:${"c".repeat(64)}` }],
  ])("%s", (text, img) => {
    expect(ociImageOf(parsePurl(text))).toEqual(img);
  });

  it.each([
    ["pkg:oci/app?repository_url=ghcr.io/org/app", "names no tag or digest"],
    ["pkg:oci/app@v1", "names no registry"],
    ["pkg:npm/app@1.0.0", "not an oci package URL (npm)"],
  ])("refuses %s: %s", (text, said) => {
    let err: unknown;
    try {
      ociImageOf(parsePurl(text));
    } catch (e) {
      err = e;
    }

    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).kind).toBe("config");
    expect((err as ForgeError).message).toContain(said);
  });
});

describe("pieces", () => {
  it("writes sha256 and sha512 digests as raw CIDs and leaves others without one", async () => {
    const bytes = Buffer.from("an artifact's bytes");
    const sha512 = `sha512:${"ef".repeat(64)}`;

    const cids = [digestCid(`sha256:${createHash("sha256").update(bytes).digest("hex")}`), digestCid(sha512), digestCid(`blake3:${"ab".repeat(32)}`), digestCid("sha256:abc"), digestCid(`sha256:${"AB".repeat(32)}`)];

    expect(cids[0]?.toString()).toBe(await cidOfBytes(bytes));
    expect([cids[1]?.code, cids[1]?.multihash.code, cids[1]?.multihash.size]).toEqual([0x55, 0x13, 64]);
    expect(cids.slice(2)).toEqual([undefined, undefined, undefined]);
  });

  it("reads WWW-Authenticate challenges: several in one header, quoted and bare values, escapes", () => {
    const header = 'Basic realm="registry", Bearer realm="https://auth.example.org/token",service=registry.example.org,scope="repository:a/b:pull repository:c:pull",error="in\\"valid"';

    expect(parseChallenges(header)).toEqual([
      { scheme: "basic", params: { realm: "registry" } },
      { scheme: "bearer", params: { realm: "https://auth.example.org/token", service: "registry.example.org", scope: "repository:a/b:pull repository:c:pull", error: 'in"valid' } },
    ]);
    expect(parseChallenges("Negotiate abc==, Bearer realm=x")).toEqual([{ scheme: "negotiate", params: {} }, { scheme: "bearer", params: { realm: "x" } }]);
    expect(parseChallenges("Basic, Bearer realm=\"r\", scope=\"\"")).toEqual([{ scheme: "basic", params: {} }, { scheme: "bearer", params: { realm: "r", scope: "" } }]);
  });

  it("keeps a token until its time is up", () => {
    let now = 1_000;
    const tokens = new OciTokens(() => now);
    tokens.set("https://r", "a", "t", 5_000);

    const kept = tokens.get("https://r", "a");
    now += 5_000;
    const gone = tokens.get("https://r", "a");

    expect([kept, gone, tokens.size]).toEqual(["t", undefined, 0]);
  });
});
