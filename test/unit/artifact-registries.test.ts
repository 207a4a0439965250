import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { Probot } from "probot";
import type { Artifacts } from "../../src/artifacts/artifacts.js";
import { escapeModulePath, GoProxyArtifacts } from "../../src/artifacts/golang.js";
import { GithubReleaseArtifacts } from "../../src/artifacts/github-release.js";
import { MavenArtifacts } from "../../src/artifacts/maven.js";
import { integrityCid, NpmArtifacts } from "../../src/artifacts/npm.js";
import { digestCid } from "../../src/artifacts/oci.js";
import { artifactForTag, parseArtifact, type ArtifactPurl } from "../../src/artifacts/purl.js";
import { PypiArtifacts } from "../../src/artifacts/pypi.js";
import { ForgeError } from "../../src/forge/errors.js";
import { RelayOctokit, type GithubClient } from "../../src/forge/github-octokit.js";
import { createLogger } from "../../src/log.js";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { FakeGoProxy } from "../fakes/goproxy/fake-goproxy.js";
import { FakeMaven } from "../fakes/maven/fake-maven.js";
import { FakePypi } from "../fakes/pypi/fake-pypi.js";
import { useLoopbackServers } from "../helpers/loopback-server.js";
import type { RegistryFake } from "../helpers/registry-fake.js";
import { appPrivateKey } from "../helpers/keys.js";
import { npmTarball, startVerdaccio, type Verdaccio } from "../helpers/verdaccio.js";

/**
 * Each registry client of the `Artifacts` role over real HTTP: npm against a real registry (Verdaccio,
 * test/helpers/verdaccio.ts), the others against a fake made from the registry's documented API
 * (test/fakes/<name>/SOURCE.md): published, missing, yanked or incomplete, and errors classified
 * (`config`: only a person can fix it; `transient`: the gate looks again).
 */
const at = (template: string, tag: string): ArtifactPurl => artifactForTag(parseArtifact(template), tag);

async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

/** The same three error cases for every HTTP registry: a 403 (config), a 503 (transient), a 429 (rate limited). */
async function classified(server: RegistryFake, client: Artifacts, purl: ArtifactPurl) {
  server.fail(403);
  const refused = await failure(client.published(purl));
  server.fail(503);
  const down = await failure(client.published(purl));
  server.fail(429, 1, { "retry-after": "7" });
  const limited = await failure(client.published(purl));
  return [[refused.kind, refused.hint !== undefined], [down.kind], [limited.kind, limited.retryAfterMs]];
}
const CLASSIFIED = [["config", true], ["transient"], ["rate_limited", 7000]];

describe("PyPI JSON API", () => {
  let pypi: FakePypi;
  beforeAll(async () => (pypi = await FakePypi.start()));
  afterAll(() => pypi.stop());
  afterEach(() => expect(pypi.server.problems).toEqual([]));
  const client = new PypiArtifacts();
  const nova = () => at(`pkg:pypi/Nova_Compute@{version}?repository_url=${pypi.base}`, "v29.0.1");

  it("is missing before the upload, published with each file's sha256 as a digest and a raw CID after, missing again once yanked", async () => {
    const before = await client.published(nova());
    const { sha256 } = pypi.publish("nova-compute", "29.0.1", [{ filename: "nova_compute-29.0.1.tar.gz", content: "sdist" }, { filename: "nova_compute-29.0.1-py3-none-any.whl", content: "wheel" }]);
    const after = await client.published(nova());
    pypi.yank("nova-compute", "29.0.1", "broken wheel");
    const yanked = await client.published(nova());

    expect(before).toEqual({ published: false });
    expect(after).toEqual({
      published: true,
      digests: [
        { name: "nova_compute-29.0.1.tar.gz", digest: `sha256:${sha256[0]}`, cid: digestCid(`sha256:${sha256[0]}`)!.toString() },
        { name: "nova_compute-29.0.1-py3-none-any.whl", digest: `sha256:${sha256[1]}`, cid: digestCid(`sha256:${sha256[1]}`)!.toString() },
      ],
    });
    expect(yanked).toEqual({ published: false, why: "yanked: broken wheel" });
    expect(pypi.server.requests.map((r) => r.path)).toEqual(Array(3).fill("/pypi/nova-compute/29.0.1/json"));
  });

  it("counts a release without files as not published, and classifies errors", async () => {
    pypi.publish("empty", "1.0", []);

    const empty = await client.published(at(`pkg:pypi/empty@{version}?repository_url=${pypi.base}`, "1.0"));
    const errors = await classified(pypi.server, client, nova());

    expect(empty).toEqual({ published: false, why: "no files uploaded yet" });
    expect(errors).toEqual(CLASSIFIED);
  });
});

describe("Go module proxy", () => {
  let proxy: FakeGoProxy;
  beforeAll(async () => (proxy = await FakeGoProxy.start()));
  afterAll(() => proxy.stop());
  afterEach(() => expect(proxy.server.problems).toEqual([]));
  const client = new GoProxyArtifacts();

  it("asks for the case-encoded .info of the version: missing, then published (the proxy names no digest)", async () => {
    const purl = at(`pkg:golang/github.com/BurntSushi/toml?repository_url=${proxy.base}`, "v1.4.0");
    const before = await client.published(purl);
    proxy.publish("github.com/BurntSushi/toml", "v1.4.0");
    const after = await client.published(purl);

    expect(escapeModulePath("github.com/BurntSushi/toml")).toBe("github.com/!burnt!sushi/toml");
    expect([before, after]).toEqual([{ published: false }, { published: true, digests: [] }]);
    expect(proxy.server.requests.map((r) => [r.path, r.status])).toEqual([["/github.com/!burnt!sushi/toml/@v/v1.4.0.info", 404], ["/github.com/!burnt!sushi/toml/@v/v1.4.0.info", 200]]);
    expect(await classified(proxy.server, client, purl)).toEqual(CLASSIFIED);
  });
});

describe("Maven repository", () => {
  let maven: FakeMaven;
  beforeAll(async () => (maven = await FakeMaven.start()));
  afterAll(() => maven.stop());
  afterEach(() => expect(maven.server.problems).toEqual([]));
  const client = new MavenArtifacts();

  it("sends a HEAD of the POM in the repository layout: missing, then published", async () => {
    const purl = at(`pkg:maven/org.opendaylight.odlparent/odlparent@{version}?repository_url=${maven.base}`, "v13.1.0");
    const before = await client.published(purl);
    maven.publish("org.opendaylight.odlparent", "odlparent", "13.1.0");
    const after = await client.published(purl);

    expect([before, after]).toEqual([{ published: false }, { published: true, digests: [] }]);
    expect(maven.server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(Array(2).fill("HEAD /org/opendaylight/odlparent/odlparent/13.1.0/odlparent-13.1.0.pom"));
    expect(await classified(maven.server, client, purl)).toEqual(CLASSIFIED);
  });
});

describe("npm registry (a real Verdaccio)", () => {
  let npm: Verdaccio;
  beforeAll(async () => (npm = await startVerdaccio({ privateScopes: ["@private/*"] })));
  afterAll(() => npm?.stop());
  const serve = useLoopbackServers();
  const client = new NpmArtifacts();
  const runtime = (tag: string) => at(`pkg:npm/%40kata/runtime@{version}?repository_url=${npm.base}`, tag);

  it("asks for a scoped package's version with its name encoded: missing, then published with the integrity of the tarball Verdaccio serves, and that as a CID; another version stays missing", async () => {
    const before = await client.published(runtime("v3.2.0"));
    const { integrity } = await npm.publish("@kata/runtime", "3.2.0", npmTarball("@kata/runtime", "3.2.0"));
    const after = await client.published(runtime("v3.2.0"));
    const otherVersion = await client.published(runtime("v3.2.1"));
    const served = await npm.tarball("@kata/runtime", "3.2.0");

    expect(before).toEqual({ published: false });
    expect(after).toEqual({ published: true, digests: [{ digest: integrity, cid: integrityCid(integrity) }] });
    expect(integrity).toBe(`sha512-${createHash("sha512").update(served).digest("base64")}`);
    expect(integrityCid(integrity)).toMatch(/^bafkr/);
    expect(otherVersion).toEqual({ published: false });
    // Verdaccio also answers /@kata/runtime/3.2.0; registry.npmjs.org wants the scoped name as one segment
    expect(npm.requests.map((r) => [r.path, r.status])).toEqual([["/@kata%2Fruntime/3.2.0", 404], ["/@kata%2Fruntime/3.2.0", 200], ["/@kata%2Fruntime/3.2.1", 404]]);
  });

  it("classifies errors: Verdaccio's 401 for a package anonymous users may not read; a 503 and a 429 from a loopback server", async () => {
    await npm.publish("@private/agent", "1.0.0", npmTarball("@private/agent", "1.0.0"));
    // Verdaccio without uplinks never answers 503 or 429: those two come from a loopback server
    const down = await serve((_req, res) => res.writeHead(503, { "content-type": "text/plain" }).end("down for maintenance"));
    const limited = await serve((_req, res) => res.writeHead(429, { "content-type": "text/plain", "retry-after": "7" }).end("slow down"));

    const refused = await failure(client.published(at(`pkg:npm/%40private/agent@{version}?repository_url=${npm.base}`, "v1.0.0")));
    const unavailable = await failure(client.published(at(`pkg:npm/%40kata/runtime@{version}?repository_url=${down}`, "v3.2.0")));
    const rateLimited = await failure(client.published(at(`pkg:npm/%40kata/runtime@{version}?repository_url=${limited}`, "v3.2.0")));

    expect([[refused.kind, refused.hint !== undefined], [unavailable.kind], [rateLimited.kind, rateLimited.retryAfterMs]]).toEqual(CLASSIFIED);
    expect([refused.status, refused.hint]).toEqual([401, expect.stringMatching(/public artifacts only/)]);
    expect(npm.requests.at(-1)).toMatchObject({ path: "/@private%2Fagent/1.0.0", status: 401 });
  });
});

describe("GitHub release assets", () => {
  const APP_ID = 77;
  let github: FakeGithub;
  let client: GithubReleaseArtifacts;
  beforeAll(async () => {
    github = await FakeGithub.start({
      appId: APP_ID, privateKey: appPrivateKey(),
      repos: {
        "kata/kata": {
          installationId: 3,
          releases: {
            "v3.0.0": { assets: [{ name: "kata.tar.zst", state: "uploaded", digest: `sha256:${"ab".repeat(32)}` }, { name: "old.tar", state: "uploaded" }] },
            "v3.1.0": { assets: [{ name: "kata.tar.zst", state: "uploaded" }, { name: "kata.tar.zst.sig", state: "open" }] },
            "v3.2.0": { draft: true, assets: [{ name: "kata.tar.zst", state: "uploaded" }] },
          },
        },
      },
    });
    const probot = new Probot({ appId: APP_ID, privateKey: appPrivateKey(), baseUrl: `http://${github.host}/api/v3`, Octokit: RelayOctokit, log: createLogger("silent") });
    client = new GithubReleaseArtifacts(async () => (await probot.auth(3)) as GithubClient);
  });
  afterAll(() => github.stop());
  afterEach(() => expect(github.problems).toEqual([]));

  it("is published when every asset is uploaded (with the digests GitHub gives); not while one uploads, nor as a draft, nor without a release", async () => {
    const release = (tag: string) => client.published(at("pkg:github/kata/kata", tag));

    const results = [await release("v3.0.0"), await release("v3.1.0"), await release("v3.2.0"), await release("v9.9.9")];

    expect(results).toEqual([
      { published: true, digests: [{ name: "kata.tar.zst", digest: `sha256:${"ab".repeat(32)}`, cid: digestCid(`sha256:${"ab".repeat(32)}`)!.toString() }] },
      { published: false, why: "1 of 2 assets still uploading" },
      { published: false },
      { published: false },
    ]);
    expect(github.calls("repos/get-release-by-tag").map((r) => r.params.tag)).toEqual(["v3.0.0", "v3.1.0", "v3.2.0", "v9.9.9"]);
  });

  it("classifies GitHub's errors", async () => {
    github.fail("repos/get-release-by-tag", 403, { body: { message: "Resource not accessible by integration" } });
    github.fail("repos/get-release-by-tag", 502);

    const errors = [await failure(client.published(at("pkg:github/kata/kata", "v3.0.0"))), await failure(client.published(at("pkg:github/kata/kata", "v3.0.0")))];

    expect(errors.map((e) => [e.kind, e.status])).toEqual([["config", 403], ["transient", 502]]);
  });
});
