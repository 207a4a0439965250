import { describe, expect, it } from "@jest/globals";
import { artifactForTag, formatPurl, parseArtifact, parsePurl, PurlError, releaseVersion, repositoryUrl, versionOfTag, type ArtifactType } from "../../src/artifacts/purl.js";

/** The error `fn` throws, which must be a PurlError. */
function failure(fn: () => unknown): PurlError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PurlError);
  return err as PurlError;
}

describe("parsePurl", () => {
  it("reads every part of a package URL, percent-decoded, qualifier keys lower-cased, empty values left out", () => {
    const p = parsePurl("pkg:maven/org.apache.xmlgraphics/batik-anim@1.9.1%2Bbuild?Type=zip&classifier=dist&empty=#docs/api");

    expect(p).toEqual({
      type: "maven",
      namespace: "org.apache.xmlgraphics",
      name: "batik-anim",
      version: "1.9.1+build",
      qualifiers: { type: "zip", classifier: "dist" },
      subpath: "docs/api",
    });
  });

  it.each([
    ["the spec's canonical form", "pkg:npm/%40angular/animation@12.3.1", "pkg:npm/%40angular/animation@12.3.1"],
    ["an npm scope's @ not encoded", "pkg:npm/@angular/animation@12.3.1", "pkg:npm/%40angular/animation@12.3.1"],
    ["an npm scope without a version", "pkg:npm/@Angular/Core", "pkg:npm/%40angular/core"],
    ["pkg:// (tolerated, the // dropped)", "pkg://gem/ruby-advisory-db-check@0.12.4", "pkg:gem/ruby-advisory-db-check@0.12.4"],
    ["an upper-case scheme and type", "PKG:PyPI/Django_Allauth@12.23", "pkg:pypi/django-allauth@12.23"],
    ["runs of - _ . in a pypi name (PEP 503)", "pkg:pypi/zope.interface__Ext@6.0", "pkg:pypi/zope-interface-ext@6.0"],
    ["qualifiers out of order", "pkg:maven/org.x/y@1?type=zip&classifier=dist", "pkg:maven/org.x/y@1?classifier=dist&type=zip"],
    ["a subpath with empty, . and .. segments", "pkg:golang/google.golang.org/genproto#/googleapis/./api/../annotations/", "pkg:golang/google.golang.org/genproto#googleapis/api/annotations"],
    ["a github owner and repository in capitals", "pkg:github/Package-URL/Purl-Spec@v1.0", "pkg:github/package-url/purl-spec@v1.0"],
    ["a Go module path with capitals (kept: the path is case-sensitive)", "pkg:golang/github.com/BurntSushi/toml@v1.3.2", "pkg:golang/github.com/BurntSushi/toml@v1.3.2"],
    ["an oci digest, its colon encoded", "pkg:oci/Debian@sha256%3A244fd47e07d10?repository_url=docker.io/library/debian&tag=latest", "pkg:oci/debian@sha256:244fd47e07d10?repository_url=docker.io%2Flibrary%2Fdebian&tag=latest"],
    ["a non-ASCII name", "pkg:generic/caf%C3%A9@1", "pkg:generic/caf%C3%A9@1"],
    ["a version with a slash", "pkg:github/org/repo@release/1.0", "pkg:github/org/repo@release%2F1.0"],
    ["a scope and a version, both @ unencoded", "pkg:npm/@types/node@20.1.0", "pkg:npm/%40types/node@20.1.0"],
    ["a type this module has no rules for", "pkg:cargo/Serde@1.0.0", "pkg:cargo/Serde@1.0.0"],
  ])("reads %s and writes it back canonical", (_what, text, canonical) => {
    const p = parsePurl(text);

    expect(formatPurl(p)).toBe(canonical);
    expect(parsePurl(canonical)).toEqual(p);
  });

  it.each([
    ["npm/foo", 'does not start with "pkg:"'],
    ["pkg:", "it names no type"],
    ["pkg:npm", "it names a type but no package"],
    ["pkg:npm/", "it names a type but no package"],
    ["pkg:1npm/foo", 'the type "1npm" is not ASCII letters'],
    ["pkg:n%70m/foo", 'the type "n%70m" is not ASCII letters'],
    ["pkg:npm/foo@", "the version after @ is empty"],
    ["pkg:npm/foo%zz", 'the name "foo%zz" has a broken percent-encoding'],
    ["pkg:npm/foo?a=1&A=2", "the qualifier a is given twice"],
    ["pkg:npm/foo?1key=x", 'the qualifier key "1key" is not ASCII letters'],
    ["pkg:npm/foo bar", "it contains a space or a control character"],
    ["pkg:generic/a%2Fb", "the name or a namespace segment decodes to a /"],
    ["pkg:golang/x.org/mod#a%2Fb", "a subpath segment decodes to a /"],
  ])("refuses %s: %s", (text, said) => {
    const err = failure(() => parsePurl(text));

    expect(err.message).toContain(JSON.stringify(text));
    expect(err.message).toContain(said);
    expect(err.hint).not.toBe("");
  });

  it.each([
    ["pkg:oci/library/debian@v1", "an oci package URL has no namespace", "pkg:oci/debian?repository_url=<registry>/library/debian"],
    ["pkg:oci/app?repository_url=ghcr.io/org/other", 'the name "app" is not the last part of repository_url\'s path ("other")', "pkg:oci/other?repository_url=ghcr.io/org/other"],
    ["pkg:oci/app?repository_url=ghcr.io/Org/app", 'repository_url\'s path "Org/app" is not an OCI repository name', "lower-case"],
    ["pkg:oci/app?repository_url=ghcr.io/org//app", 'repository_url\'s path "org//app" is not an OCI repository name', "lower-case"],
    ["pkg:pypi/openstack/nova", "a pypi package URL has no namespace", "pkg:pypi/<name>"],
    ["pkg:npm/angular/core", 'an npm namespace is a scope, one segment starting with @, not "angular"', "pkg:npm/%40scope/name"],
    ["pkg:npm/@a/@b/c", "an npm namespace is a scope", "pkg:npm/%40scope/name"],
    ["pkg:github/containerd", "names the owner as its one namespace segment", "pkg:github/<owner>/<repository>"],
    ["pkg:github/a/b/c", "names the owner as its one namespace segment", "pkg:github/<owner>/<repository>"],
    ["pkg:maven/commons-lang3@3.0", "needs the group id as its namespace", "pkg:maven/<groupId>/<artifactId>"],
    ["pkg:golang/toml", "needs the module path's leading elements", "pkg:golang/github.com/containerd/containerd"],
  ])("applies its type's rules to %s", (text, said, fix) => {
    const err = failure(() => parsePurl(text));

    expect(err.message).toContain(said);
    expect(err.hint).toContain(fix);
  });
});

describe("repository_url", () => {
  it.each([
    ["ghcr.io/org/app", "https://ghcr.io/org/app"],
    ["HTTPS://Ghcr.IO/org/app/", "https://ghcr.io/org/app"],
    ["https://repo.example.org:8443/maven2", "https://repo.example.org:8443/maven2"],
    ["http://127.0.0.1:5000/org/app", "http://127.0.0.1:5000/org/app"],
    ["http://localhost:4873", "http://localhost:4873"],
    ["http://[::1]:8080/simple", "http://[::1]:8080/simple"],
    ["127.0.0.1:5000/app", "https://127.0.0.1:5000/app"],
  ])("reads %s as %s (https unless it says http, on loopback)", (value, url) => {
    const p = parsePurl(`pkg:npm/foo?repository_url=${encodeURIComponent(value)}`);

    expect(repositoryUrl(p)?.href.replace(/\/$/, "")).toBe(url);
  });

  it("is undefined without the qualifier", () => {
    expect(repositoryUrl(parsePurl("pkg:pypi/nova"))).toBeUndefined();
  });

  it.each([
    ["ftp://mirror.example.org/pypi", "has the scheme ftp://"],
    ["git://example.org/x", "has the scheme git://"],
    ["http://registry.example.org/app", "asks for http:// on a host other than this machine"],
    ["http://10.0.0.5:5000/app", "asks for http:// on a host other than this machine"],
    ["https://user:secret@ghcr.io/app", "carries credentials"],
    ["https://ghcr.io/app?x=1", "has a ?query or #fragment"],
    ["https://ghcr.io/app#frag", "has a ?query or #fragment"],
    ["https://[::1/app", "is not a URL"],
  ])("refuses %s when the package URL is read: %s", (value, said) => {
    const err = failure(() => parsePurl(`pkg:npm/foo?repository_url=${encodeURIComponent(value)}`));

    expect(err.message).toContain(`repository_url ${JSON.stringify(value)} ${said}`);
    expect(err.hint).toMatch(/https|user:password|address/);
  });
});

describe("the version of a release", () => {
  it.each<[ArtifactType, string, string]>([
    ["pypi", "v1.2.3", "1.2.3"],
    ["npm", "v1.2.3", "1.2.3"],
    ["maven", "v1.2.3", "1.2.3"],
    ["golang", "v1.2.3", "v1.2.3"],
    ["oci", "v1.2.3", "v1.2.3"],
    ["github", "v1.2.3", "v1.2.3"],
    ["pypi", "27.0.0", "27.0.0"],
    ["oci", "1.7.0", "1.7.0"],
    ["maven", "version-2", "version-2"],
  ])("of %s for the tag %s is %s", (type, tag, version) => {
    expect(releaseVersion(type, tag)).toBe(version);
  });

  it("is {version}: the tag less a leading v before a digit, whatever the type", () => {
    expect([versionOfTag("v2.0.0-rc.1"), versionOfTag("2.0.0"), versionOfTag("vNext"), versionOfTag("v")]).toEqual(["2.0.0-rc.1", "2.0.0", "vNext", "v"]);
  });

  it.each([
    ["pkg:pypi/nova", "v27.1.0", "pkg:pypi/nova@27.1.0"],
    ["pkg:npm/@scope/pkg", "v2.0.0", "pkg:npm/%40scope/pkg@2.0.0"],
    ["pkg:maven/org.example/lib", "v3.4.5", "pkg:maven/org.example/lib@3.4.5"],
    ["pkg:golang/github.com/containerd/containerd/v2", "v2.0.1", "pkg:golang/github.com/containerd/containerd/v2@v2.0.1"],
    ["pkg:github/containerd/containerd", "v1.7.20", "pkg:github/containerd/containerd@v1.7.20"],
    ["pkg:oci/app?repository_url=ghcr.io/org/app", "v1.0.0", "pkg:oci/app@v1.0.0?repository_url=ghcr.io%2Forg%2Fapp"],
  ])("fills in %s without a version for the tag %s: %s", (template, tag, purl) => {
    expect(formatPurl(artifactForTag(parseArtifact(template), tag))).toBe(purl);
  });

  it.each([
    ["pkg:oci/app@{tag}-alpine?repository_url=ghcr.io/org/app", "v1.2.0", "v1.2.0-alpine"],
    ["pkg:oci/app@{version}?repository_url=ghcr.io/org/app", "v1.2.0", "1.2.0"],
    ["pkg:pypi/nova@{tag}", "27.0.0", "27.0.0"],
    ["pkg:pypi/nova@%7Bversion%7D", "v27.0.0", "27.0.0"],
    ["pkg:maven/org.example/lib@{version}.Final", "v6.1", "6.1.Final"],
    ["pkg:github/org/repo@release-{version}", "v9", "release-9"],
    ["pkg:golang/example.org/mod@{tag}", "v0.3.0", "v0.3.0"],
    ["pkg:npm/pkg@{version}", "1.0.0-beta.2", "1.0.0-beta.2"],
  ])("fills in the placeholders of %s for the tag %s: %s", (template, tag, version) => {
    expect(artifactForTag(parseArtifact(template), tag).version).toBe(version);
  });

  it("leaves the template itself unchanged", () => {
    const template = parseArtifact("pkg:pypi/nova@{version}");

    artifactForTag(template, "v1.0.0");

    expect(template.version).toBe("{version}");
  });

  it.each([
    ["pkg:oci/app?repository_url=ghcr.io/org/app", "release/1.0", '"release/1.0" cannot be an OCI tag'],
    ["pkg:oci/app@{tag}?repository_url=ghcr.io/org/app", ".hidden", '".hidden" cannot be an OCI tag'],
    ["pkg:npm/pkg", "release-2024", '"release-2024" is not a semantic version'],
    ["pkg:npm/pkg@{tag}", "v1.0.0", '"v1.0.0" is not a semantic version'],
    ["pkg:golang/example.org/mod", "1.2.3", '"1.2.3" is not a Go module version'],
    ["pkg:golang/example.org/mod@{version}", "v1.2.3", '"1.2.3" is not a Go module version'],
    ["pkg:pypi/nova", "stable/2024.1", '"stable/2024.1" has a slash'],
    ["pkg:maven/org.example/lib", "release/1.0", '"release/1.0" has a slash'],
  ])("says %s cannot be published for the tag %s", (template, tag, said) => {
    const err = failure(() => artifactForTag(parseArtifact(template), tag));

    expect(err.message).toContain(`the release ${JSON.stringify(tag)} of `);
    expect(err.message).toContain(said);
    expect(err.hint).not.toBe("");
  });
});

describe("parseArtifact", () => {
  it.each([
    ["pkg:cargo/serde", "the relay cannot check a cargo artifact: it checks oci, pypi, npm, golang, maven, github", "use one of oci, pypi, npm, golang, maven, github"],
    ["pkg:docker/library/debian", "the relay cannot check a docker artifact: it checks oci, pypi, npm, golang, maven, github", "pkg:oci/debian?repository_url=docker.io/library/debian"],
    ["pkg:pypi/nova@27.0.0", 'the version "27.0.0" is fixed, so every release would wait for the same artifact', "(then it is the tag less a leading v)"],
    ["pkg:oci/app@latest?repository_url=ghcr.io/org/app", 'the version "latest" is fixed, so every release would wait for the same artifact', "(then it is the tag itself)"],
    ["pkg:pypi/nova@{release}", "unknown placeholder {release} in the version", "{tag} (the release's tag) and {version} (the tag less a leading v)"],
    ["pkg:pypi/nova@{tag", 'unbalanced { or } in the version "{tag"', "braces included"],
    ["pkg:pypi/nova@{version}}", 'unbalanced { or } in the version "{version}}"', "braces included"],
    ["pkg:oci/app@{tag}?repository_url=ghcr.io/org/app&tag={tag}", "a placeholder in the qualifier tag", "placeholders go in the version only"],
    ["pkg:github/org/{tag}", "a placeholder in the name", "placeholders go in the version only"],
    ["pkg:oci/app@{tag}", "an oci artifact names no registry", "repository_url"],
  ])("refuses %s", (text, said, fix) => {
    const err = failure(() => parseArtifact(text));

    expect(err.message).toBe(`${JSON.stringify(text)}: ${said}`);
    expect(err.hint).toContain(fix);
  });

  it("passes on the reader's own errors", () => {
    const err = failure(() => parseArtifact("oci/app"));

    expect(err.message).toContain('does not start with "pkg:"');
  });

  it("reads an artifact of each type it checks", () => {
    const types = ["pkg:oci/app?repository_url=http://127.0.0.1:5000/org/app", "pkg:pypi/nova", "pkg:npm/@scope/pkg@{version}", "pkg:golang/example.org/mod", "pkg:maven/org.example/lib", "pkg:github/org/repo@{tag}"].map((t) => parseArtifact(t).type);

    expect(types).toEqual(["oci", "pypi", "npm", "golang", "maven", "github"]);
  });
});
