import semver from "semver";

/**
 * Package URLs (purl-spec's PURL-SPECIFICATION and PURL-TYPES): `pkg:type/namespace/name@version?qualifiers#subpath`,
 * each part percent-decoded, the type lower-cased, and the rules of the types the relay checks (oci, pypi, npm,
 * golang, maven, github) applied. An upstream's `artifacts:` are such URLs with `{tag}` / `{version}` placeholders:
 * `artifactForTag` turns one into the package URL of a release.
 */

export interface Purl {
  /** lower-case */
  type: string;
  /** percent-decoded segments joined by `/`; undefined when there is none */
  namespace: string | undefined;
  name: string;
  version: string | undefined;
  /** keys lower-case, values percent-decoded; empty values left out, as the spec says */
  qualifiers: Readonly<Record<string, string>>;
  /** percent-decoded segments joined by `/`, without empty, `.` and `..` segments */
  subpath: string | undefined;
}

/** A package URL that cannot be read or used, with what to write instead. */
export class PurlError extends Error {
  override name = "PurlError";
  constructor(message: string, readonly hint: string) {
    super(message);
  }
}

/** The types whose registries the relay asks whether a release's artifact is published. */
export const ARTIFACT_TYPES = ["oci", "pypi", "npm", "golang", "maven", "github"] as const;
export type ArtifactType = (typeof ARTIFACT_TYPES)[number];
export type ArtifactPurl = Purl & { type: ArtifactType };

export const PLACEHOLDERS = ["tag", "version"] as const;

const SHAPE_HINT = "write it as pkg:<type>/<namespace>/<name>@<version>?<key>=<value>, e.g. pkg:pypi/nova@{version} or pkg:oci/app@{tag}?repository_url=ghcr.io/org/app";
const TYPE = /^[a-z.+-][a-z0-9.+-]*$/;
const QUALIFIER_KEY = /^[a-z._-][a-z0-9._-]*$/;
/** OCI distribution spec: a tag, a digest (`algorithm:encoded`), a repository name. */
export const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const OCI_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]+$/;
export const OCI_REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/**
 * Reads a package URL the way the spec's "How to parse" goes, right to left (subpath, qualifiers, scheme,
 * type, version, name, namespace), then applies its type's rules. Throws a PurlError saying what is wrong.
 * The last `@` separates the version, unless it starts a segment: `pkg:npm/@scope/name` (the scope's
 * `@` not percent-encoded, as people write it) reads as the spec's `pkg:npm/%40scope/name`.
 */
export function parsePurl(text: string): Purl {
  const bad = (what: string, hint = SHAPE_HINT) => new PurlError(`${JSON.stringify(text)} is not a valid package URL: ${what}`, hint);
  if (/[\u0000-\u0020\u007f]/.test(text)) throw bad("it contains a space or a control character", "percent-encode a space as %20 inside a part; nothing else may be blank");
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw bad(`${what} ${JSON.stringify(part)} has a broken percent-encoding`, "a % starts an escape of two hex digits (%40 for @, %2F for /); write %25 for a % itself");
    }
  };

  let rest = text;
  let subpath: string | undefined;
  const hash = rest.lastIndexOf("#");
  if (hash >= 0) {
    const segments = rest.slice(hash + 1).split("/").filter((s) => s !== "" && s !== "." && s !== "..").map((s) => decode(s, "the subpath segment"));
    if (segments.some((s) => s.includes("/") || s === "." || s === "..")) throw bad("a subpath segment decodes to a / or to . or ..");
    subpath = segments.length > 0 ? segments.join("/") : undefined;
    rest = rest.slice(0, hash);
  }

  const qualifiers: Record<string, string> = {};
  const question = rest.lastIndexOf("?");
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      const key = (eq < 0 ? pair : pair.slice(0, eq)).toLowerCase();
      if (!QUALIFIER_KEY.test(key)) {
        throw bad(`the qualifier key ${JSON.stringify(key)} is not ASCII letters, digits, . - _ (not starting with a digit)`, "qualifiers are key=value pairs joined by &, e.g. ?repository_url=ghcr.io/org/app");
      }
      if (key in qualifiers) throw bad(`the qualifier ${key} is given twice`, "give each qualifier once");
      const value = eq < 0 ? "" : decode(pair.slice(eq + 1), `the value of ${key}`);
      if (value !== "") qualifiers[key] = value;
    }
    rest = rest.slice(0, question);
  }

  const colon = rest.indexOf(":");
  if (colon < 0 || rest.slice(0, colon).toLowerCase() !== "pkg") throw bad('it does not start with "pkg:"');
  rest = rest.slice(colon + 1).replace(/^\/+/, "").replace(/\/+$/, "");

  const slash = rest.indexOf("/");
  if (slash < 0) throw bad(rest === "" ? "it names no type" : "it names a type but no package");
  const type = rest.slice(0, slash).toLowerCase();
  if (!TYPE.test(type)) throw bad(`the type ${JSON.stringify(rest.slice(0, slash))} is not ASCII letters, digits, . + - (not starting with a digit)`);
  rest = rest.slice(slash + 1);

  let version: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at > 0 && rest[at - 1] !== "/") {
    version = decode(rest.slice(at + 1), "the version");
    if (version === "") throw bad("the version after @ is empty", "leave out the @ as well, or write a version after it");
    rest = rest.slice(0, at);
  }

  const lastSlash = rest.lastIndexOf("/");
  const name = decode(rest.slice(lastSlash + 1), "the name");
  const segments = lastSlash < 0 ? [] : rest.slice(0, lastSlash).split("/").filter((s) => s !== "").map((s) => decode(s, "the namespace segment"));
  if (name.includes("/") || segments.some((s) => s.includes("/"))) throw bad("the name or a namespace segment decodes to a /", "a / separates namespace segments and the name: do not percent-encode it");

  const purl: Purl = { type, namespace: segments.length > 0 ? segments.join("/") : undefined, name, version, qualifiers, subpath };
  if (qualifiers.repository_url !== undefined) parseRepositoryUrl(qualifiers.repository_url, text);
  return typeRules(purl, text);
}

/** The canonical form ("How to build"): lower-case type, percent-encoded parts, qualifiers sorted by key. */
export function formatPurl(p: Purl): string {
  let out = `pkg:${p.type}/`;
  if (p.namespace) out += `${p.namespace.split("/").map(encode).join("/")}/`;
  out += encode(p.name);
  if (p.version !== undefined) out += `@${encode(p.version)}`;
  const pairs = Object.entries(p.qualifiers).filter(([, v]) => v !== "").map(([k, v]) => `${k}=${encode(v)}`).sort();
  if (pairs.length > 0) out += `?${pairs.join("&")}`;
  if (p.subpath) out += `#${p.subpath.split("/").map(encode).join("/")}`;
  return out;
}

/** Percent-encodes all but ASCII letters, digits and `. - _ ~ :` (the spec leaves `:` unencoded everywhere). */
function encode(s: string): string {
  return Array.from(new TextEncoder().encode(s), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9._~:-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

/** PURL-TYPES's rules for the types the relay checks; other types pass as parsed. */
function typeRules(p: Purl, text: string): Purl {
  const bad = (what: string, hint: string) => new PurlError(`${JSON.stringify(text)}: ${what}`, hint);
  switch (p.type) {
    case "oci": {
      if (p.namespace) {
        throw bad(`an oci package URL has no namespace (${JSON.stringify(p.namespace)})`, `put the registry and the repository's path in repository_url: pkg:oci/${p.name.toLowerCase()}?repository_url=<registry>/${p.namespace}/${p.name.toLowerCase()}`);
      }
      const name = p.name.toLowerCase();
      const repo = p.qualifiers.repository_url;
      const path = repo === undefined ? "" : parseRepositoryUrl(repo, text).pathname.replace(/^\/+/, "");
      if (path !== "" && !OCI_REPOSITORY.test(path)) {
        throw bad(`repository_url's path ${JSON.stringify(path)} is not an OCI repository name`, "a repository is lower-case path components of letters and digits, separated by . _ __ or dashes, joined by /");
      }
      const last = path === "" ? undefined : path.split("/").at(-1);
      if (last !== undefined && last !== name) {
        throw bad(`the name ${JSON.stringify(name)} is not the last part of repository_url's path (${JSON.stringify(last)})`, `an oci name is the repository's last path segment: write pkg:oci/${last}?repository_url=${repo}`);
      }
      return { ...p, name };
    }
    case "pypi":
      if (p.namespace) throw bad(`a pypi package URL has no namespace (${JSON.stringify(p.namespace)})`, "write pkg:pypi/<name>, the name as on PyPI");
      // PEP 503 normalisation, as PURL-TYPES asks: case folded, runs of - _ . become one -.
      return { ...p, name: p.name.toLowerCase().replace(/[-_.]+/g, "-") };
    case "npm": {
      const namespace = p.namespace?.toLowerCase();
      if (namespace !== undefined && !/^@[^/@]+$/.test(namespace)) {
        throw bad(`an npm namespace is a scope, one segment starting with @, not ${JSON.stringify(namespace)}`, "write pkg:npm/%40scope/name (or pkg:npm/name for an unscoped package)");
      }
      return { ...p, namespace, name: p.name.toLowerCase() };
    }
    case "github":
      if (!p.namespace || p.namespace.includes("/")) throw bad("a github package URL names the owner as its one namespace segment", "write pkg:github/<owner>/<repository>");
      return { ...p, namespace: p.namespace.toLowerCase(), name: p.name.toLowerCase() };
    case "maven":
      if (!p.namespace) throw bad("a maven package URL needs the group id as its namespace", "write pkg:maven/<groupId>/<artifactId>, e.g. pkg:maven/org.apache.commons/commons-lang3");
      return p;
    case "golang":
      // PURL-TYPES says lower-case, but a module path is case-sensitive (github.com/BurntSushi/toml): the Go
      // proxy escapes capitals as !x and answers nothing for a lower-cased path. The case is kept.
      if (!p.namespace) throw bad("a golang package URL needs the module path's leading elements as its namespace", "write the module path after pkg:golang/, e.g. pkg:golang/github.com/containerd/containerd");
      return p;
    default:
      return p;
  }
}

/**
 * A `repository_url` qualifier as a URL: `https://` when it names no scheme (the spec's own examples
 * write `repository_url=ghcr.io/org/app`); `http://` only on loopback, for a test or local registry
 * without TLS; no credentials, query or fragment.
 */
export function repositoryUrl(p: Purl): URL | undefined {
  const raw = p.qualifiers.repository_url;
  return raw === undefined ? undefined : parseRepositoryUrl(raw, formatPurl(p));
}

function parseRepositoryUrl(raw: string, text: string): URL {
  const bad = (what: string, hint = "write the registry's address, e.g. repository_url=ghcr.io/org/app (https is assumed), or http://127.0.0.1:5000/org/app for a registry on this machine without TLS") =>
    new PurlError(`${JSON.stringify(text)}: repository_url ${JSON.stringify(raw)} ${what}`, hint);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== "https" && scheme !== "http") throw bad(`has the scheme ${scheme}://; registries are reached over https (or http on loopback)`);
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `https://${raw}` : raw);
  } catch {
    throw bad("is not a URL");
  }
  if (url.username || url.password) throw bad("carries credentials", "the relay checks public artifacts only: remove user:password@");
  if (url.search || url.hash) throw bad("has a ?query or #fragment", "give the registry's address and path only; percent-encode a ? or # inside a purl qualifier value as %3F / %23");
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw bad("asks for http:// on a host other than this machine", "use https:// (the default): plain http is accepted only for a registry on loopback (localhost, 127.0.0.1, [::1])");
  }
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}

export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * An upstream's artifact as the map writes it: a package URL of a type the relay checks, whose version is
 * left out or made of `{tag}` / `{version}` placeholders (never a fixed version: it would name the same
 * artifact for every release).
 */
export function parseArtifact(text: string): ArtifactPurl {
  const p = parsePurl(text);
  const bad = (what: string, hint: string) => new PurlError(`${JSON.stringify(text)}: ${what}`, hint);
  if (!isArtifactType(p.type)) {
    const hint = p.type === "docker" ? `write an image as pkg:oci/<name>?repository_url=<registry>/<path>, e.g. pkg:oci/${p.name}?repository_url=docker.io/${p.namespace ?? "library"}/${p.name}` : `use one of ${ARTIFACT_TYPES.join(", ")}`;
    throw bad(`the relay cannot check a ${p.type} artifact: it checks ${ARTIFACT_TYPES.join(", ")}`, hint);
  }
  if (p.version !== undefined) {
    const unknown = [...p.version.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((n) => !(PLACEHOLDERS as readonly string[]).includes(n));
    if (unknown.length > 0) throw bad(`unknown placeholder {${unknown[0]}} in the version`, "the placeholders are {tag} (the release's tag) and {version} (the tag less a leading v)");
    if (/[{}]/.test(p.version.replace(/\{(tag|version)\}/g, ""))) throw bad(`unbalanced { or } in the version ${JSON.stringify(p.version)}`, "write {tag} or {version}, braces included");
    if (!/\{(tag|version)\}/.test(p.version)) {
      throw bad(`the version ${JSON.stringify(p.version)} is fixed, so every release would wait for the same artifact`, `write @{tag} or @{version}, or leave the version out (then it is ${describeRule(p.type)})`);
    }
  }
  const elsewhere: [string, string | undefined][] = [["the namespace", p.namespace], ["the name", p.name], ["the subpath", p.subpath], ...Object.entries(p.qualifiers).map(([k, v]): [string, string] => [`the qualifier ${k}`, v])];
  for (const [where, value] of elsewhere) {
    if (value !== undefined && /\{(tag|version)\}/.test(value)) throw bad(`a placeholder in ${where}`, "placeholders go in the version only (after @)");
  }
  if (p.type === "oci" && p.qualifiers.repository_url === undefined) {
    throw bad("an oci artifact names no registry", `oci package URLs are registry-agnostic: add repository_url, e.g. pkg:oci/${p.name}?repository_url=ghcr.io/<org>/${p.name} or ?repository_url=docker.io/library/${p.name}`);
  }
  return p as ArtifactPurl;
}

function isArtifactType(t: string): t is ArtifactType {
  return (ARTIFACT_TYPES as readonly string[]).includes(t);
}

/** The tag less a leading `v` before a digit (`v1.2.3` → `1.2.3`; `version-2` stays). */
export function versionOfTag(tag: string): string {
  return tag.replace(/^v(?=\d)/, "");
}

/** A release's version for a type whose purl names none: the tag less a leading v for pypi, npm and maven; the tag itself for golang, oci and github. */
export function releaseVersion(type: ArtifactType, tag: string): string {
  return type === "pypi" || type === "npm" || type === "maven" ? versionOfTag(tag) : tag;
}

function describeRule(type: ArtifactType): string {
  return releaseVersion(type, "v1.2.3") === "v1.2.3" ? "the tag itself" : "the tag less a leading v";
}

/**
 * The package URL of the artifact a release tagged `tag` publishes: the template's `{tag}` and `{version}`
 * replaced, or, without a version, the type's release version. Throws a PurlError where the result cannot
 * be a version of that registry (an OCI tag with a `/`, an npm version that is not semver, …).
 */
export function artifactForTag(template: ArtifactPurl, tag: string): ArtifactPurl {
  const version = template.version === undefined ? releaseVersion(template.type, tag) : template.version.replace(/\{(tag|version)\}/g, (_m, p: string) => (p === "tag" ? tag : versionOfTag(tag)));
  const bad = (what: string, hint: string) => new PurlError(`the release ${JSON.stringify(tag)} of ${formatPurl(template)}: ${what}`, hint);
  switch (template.type) {
    case "oci":
      if (!OCI_TAG.test(version) && !OCI_DIGEST.test(version)) {
        throw bad(`${JSON.stringify(version)} cannot be an OCI tag (letters, digits, _ . -, at most 128, not starting with . or -)`, "tag the image under a name derived with {tag} / {version} that a registry accepts, or leave this tag's artifacts out");
      }
      break;
    case "npm":
      if (semver.valid(version) !== version) throw bad(`${JSON.stringify(version)} is not a semantic version, which npm requires`, "an npm version is MAJOR.MINOR.PATCH[-pre]; {version} takes a leading v off the tag");
      break;
    case "golang":
      if (!version.startsWith("v") || semver.valid(version.slice(1)) !== version.slice(1)) {
        throw bad(`${JSON.stringify(version)} is not a Go module version (v, then a semantic version)`, "Go modules are tagged vMAJOR.MINOR.PATCH; write @{tag} when the tag is one");
      }
      break;
    case "pypi":
    case "maven":
      if (/[/\\]/.test(version)) throw bad(`${JSON.stringify(version)} has a slash, which a ${template.type} version cannot`, "derive the version with {tag} / {version}, or leave this tag's artifacts out");
      break;
    case "github":
      break;
  }
  return { ...template, version };
}
