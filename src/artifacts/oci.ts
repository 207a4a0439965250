import { CID } from "multiformats/cid";
import { create as createDigest } from "multiformats/hashes/digest";
import { createHash } from "node:crypto";
import { classifyHttpError, ForgeError, fetchFailure } from "../forge/errors.js";
import { formatPurl, isLoopback, OCI_DIGEST, OCI_REPOSITORY, OCI_TAG, PurlError, repositoryUrl, type Purl } from "./purl.js";
import { readCapped } from "../util/read-capped.js";

/**
 * Is an OCI image (a tag or a digest) published? One `HEAD /v2/<name>/manifests/<reference>` (OCI
 * distribution spec, "Checking if content exists"), which Docker Hub does not count against its pull
 * limit, with an `Accept` listing the four manifest types, so a multi-platform index answers as itself.
 * A registry that wants a token for public images says so with a `401` and a `Bearer` challenge; the
 * relay fetches an anonymous token from the named realm (Docker's token authentication spec) and asks again.
 */

export interface OciImage {
  /** the registry's API origin: https://ghcr.io, https://registry-1.docker.io, http://127.0.0.1:5000 */
  registry: string;
  /** the repository on that registry: org/app, library/debian */
  repository: string;
  /** a tag or a digest */
  reference: string;
}

export type OciPublication =
  | {
      published: true;
      /** the manifest's digest (`Docker-Content-Digest`), e.g. sha256:… */
      digest: string;
      /** the same digest as a CIDv1 (raw codec, the digest's multihash); undefined for an algorithm other than sha256 or sha512 */
      cid: CID | undefined;
      /** the manifest's media type, as the registry names it */
      mediaType: string | undefined;
    }
  | { published: false };

export interface OciCheckOptions {
  /** the whole check, token included (default 20 s) */
  timeoutMs?: number;
  /** the caller's own cancellation: its reason is thrown as it is */
  signal?: AbortSignal;
  userAgent?: string;
  /** anonymous tokens kept between checks, so a repeated check is one request, not three */
  tokens?: OciTokens;
}

export const OCI_DEFAULTS = { timeoutMs: 20_000, userAgent: "openci-relay", maxRedirects: 5, maxTokenBytes: 64 * 1024, maxManifestBytes: 4 * 1024 * 1024 } as const;

/** Every manifest type an image is pushed as today: an index or a single manifest, OCI or Docker. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

const ACCEPT = MANIFEST_MEDIA_TYPES.join(", ");
const DOCKER_HUB_HOSTS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);
const DOCKER_HUB_API = "https://registry-1.docker.io";
const RAW = 0x55;
const MULTIHASH: Record<string, { code: number; hexLength: number }> = { sha256: { code: 0x12, hexLength: 64 }, sha512: { code: 0x13, hexLength: 128 } };
const PUBLIC_HINT = "the relay checks public images only, without credentials: check the repository in repository_url (Docker Hub also answers this way for a repository that does not exist), or make the image public";

/**
 * Where an `oci` package URL's image is: `repository_url`'s host is the registry (Docker Hub's names,
 * docker.io among them, are its API host registry-1.docker.io) and its path the repository (the name
 * alone when it has none; `library/` before a one-part name on Docker Hub); the version is the reference.
 */
export function ociImageOf(purl: Purl): OciImage {
  const text = formatPurl(purl);
  const fail = (what: string, hint: string) => new ForgeError(`${text}: ${what}`, "config", { hint });
  if (purl.type !== "oci") throw fail(`not an oci package URL (${purl.type})`, "write an image as pkg:oci/<name>@<tag>?repository_url=<registry>/<path>");
  if (purl.version === undefined) throw fail("names no tag or digest", "give the version (@<tag> or @sha256:…); a release's is filled in from the map's {tag} / {version}");
  let url: URL | undefined;
  try {
    url = repositoryUrl(purl);
  } catch (err) {
    if (err instanceof PurlError) throw fail(err.message, err.hint);
    throw err;
  }
  if (url === undefined) throw fail("names no registry", `oci package URLs are registry-agnostic: add repository_url, e.g. ?repository_url=ghcr.io/<org>/${purl.name}`);
  let repository = url.pathname.replace(/^\/+/, "") || purl.name;
  let registry = url.origin;
  if (DOCKER_HUB_HOSTS.has(url.host)) {
    registry = DOCKER_HUB_API;
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  return { registry, repository, reference: purl.version };
}

/** Where `ociImagePublished` looks, checked before anything is sent. */
function manifestUrl(image: OciImage, what: string): URL {
  const fail = (why: string, hint: string) => new ForgeError(`${what}: ${why}`, "config", { hint });
  let registry: URL;
  try {
    registry = new URL(image.registry);
  } catch {
    throw fail(`the registry ${JSON.stringify(image.registry)} is not a URL`, "name the registry as https://host[:port]");
  }
  if (registry.protocol !== "https:" && !(registry.protocol === "http:" && isLoopback(registry.hostname))) {
    throw fail(`the registry must be reached over https (http only on loopback), not ${registry.protocol}//${registry.host}`, "write repository_url without a scheme (https is assumed)");
  }
  if (!OCI_REPOSITORY.test(image.repository) || image.repository.length >= 256) {
    throw fail(`${JSON.stringify(image.repository)} is not an OCI repository name`, "a repository is lower-case path components of letters and digits, separated by . _ __ or dashes, joined by /");
  }
  if (!OCI_TAG.test(image.reference) && !OCI_DIGEST.test(image.reference)) {
    throw fail(`${JSON.stringify(image.reference)} is neither an OCI tag nor a digest`, "a tag is letters, digits, _ . - (at most 128, not starting with . or -); a digest is algorithm:hex");
  }
  return new URL(`/v2/${image.repository}/manifests/${image.reference}`, registry.origin);
}

export function describeImage(image: OciImage): string {
  const host = image.registry.replace(/^https?:\/\//, "");
  return `${host}/${image.repository}${OCI_DIGEST.test(image.reference) ? "@" : ":"}${image.reference}`;
}

/** `ociImagePublished` for an `oci` package URL. */
export function ociArtifactPublished(purl: Purl, opts: OciCheckOptions = {}): Promise<OciPublication> {
  return ociImagePublished(ociImageOf(purl), opts);
}

/**
 * Whether the image is published: `{ published: true, digest, cid }` on 200, `{ published: false }` on
 * 404 (the registry's MANIFEST_UNKNOWN or NAME_UNKNOWN; a HEAD answer has no body to tell them apart).
 * Throws a ForgeError: `config` where only a person can help (the registry wants credentials, refuses,
 * redirects to another scheme, answers nonsense), `transient` for a timeout, a network error or a 5xx,
 * `rate_limited` with the wait the registry named.
 */
export async function ociImagePublished(image: OciImage, opts: OciCheckOptions = {}): Promise<OciPublication> {
  const what = `checking ${describeImage(image)}`;
  const url = manifestUrl(image, what);
  const timeoutMs = opts.timeoutMs ?? OCI_DEFAULTS.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    return await check(image, url, what, { signal, userAgent: opts.userAgent ?? OCI_DEFAULTS.userAgent, tokens: opts.tokens });
  } catch (err) {
    throw fetchFailure(err, what, { signal: opts.signal, timeout, timeoutMs, slow: "the registry" });
  }
}

interface Ctx {
  signal: AbortSignal;
  userAgent: string;
  tokens: OciTokens | undefined;
}

async function check(image: OciImage, url: URL, what: string, ctx: Ctx): Promise<OciPublication> {
  let token = ctx.tokens?.get(image.registry, image.repository);
  let res = await send("HEAD", url, token, ctx, what);
  if (res.status === 401) {
    const header = res.headers.get("www-authenticate");
    const challenge = parseChallenges(header ?? "").find((c) => c.scheme === "bearer" && c.params.realm);
    if (!challenge) {
      throw new ForgeError(
        header ? `${what}: the registry asks for credentials (WWW-Authenticate: ${header.slice(0, 200)}) and offers no anonymous token` : `${what}: 401 without a WWW-Authenticate challenge`,
        "config",
        { status: 401, hint: PUBLIC_HINT },
      );
    }
    const fresh = await anonymousToken(challenge.params, image.repository, what, ctx);
    token = fresh.token;
    ctx.tokens?.set(image.registry, image.repository, token, fresh.ttlMs);
    res = await send("HEAD", url, token, ctx, what);
    if (res.status === 401) {
      ctx.tokens?.delete(image.registry, image.repository);
      throw new ForgeError(`${what}: the registry refuses anonymous pulls of ${image.repository}, even with a token from its token service`, "config", { status: 401, hint: PUBLIC_HINT });
    }
  }
  if (res.status === 404) return { published: false };
  if (res.status !== 200) throw statusError(res, what);
  const mediaType = res.headers.get("content-type")?.split(";")[0]!.trim() || undefined;
  // By digest, the reference is the digest (the spec: trust the digest asked for over the header).
  const digest = OCI_DIGEST.test(image.reference)
    ? image.reference
    : (res.headers.get("docker-content-digest") ?? (await digestByGet(url, token, what, ctx)));
  if (!OCI_DIGEST.test(digest)) {
    throw new ForgeError(`${what}: the registry answered a malformed digest ${JSON.stringify(digest.slice(0, 100))}`, "config", { hint: "the registry does not follow the OCI distribution spec: ask its operators" });
  }
  return { published: true, digest, cid: digestCid(digest), mediaType };
}

/** The manifest's digest where a registry's HEAD names none (the header is a SHOULD): its bytes, hashed. */
async function digestByGet(url: URL, token: string | undefined, what: string, ctx: Ctx): Promise<string> {
  const res = await send("GET", url, token, ctx, what);
  if (res.status !== 200) throw statusError(res, what);
  const body = await readCapped(res, OCI_DEFAULTS.maxManifestBytes, () => new ForgeError(`${what}: the manifest is larger than ${OCI_DEFAULTS.maxManifestBytes} bytes`, "config", { hint: "the registry sent no Docker-Content-Digest and a manifest too large to hash" }));
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

/** An OCI digest as a CIDv1: raw codec, the digest's own hash as a multihash (sha2-256 or sha2-512). */
export function digestCid(digest: string): CID | undefined {
  const [algorithm, hex] = digest.split(":") as [string, string | undefined];
  const hash = MULTIHASH[algorithm];
  if (!hash || !hex || hex.length !== hash.hexLength || !/^[0-9a-f]+$/.test(hex)) return undefined;
  return CID.createV1(RAW, createDigest(hash.code, Buffer.from(hex, "hex")));
}

/** One request, following redirects to the same scheme only; the token goes to the first origin alone. */
async function send(method: "HEAD" | "GET", url: URL, token: string | undefined, ctx: Ctx, what: string, accept = ACCEPT): Promise<Response> {
  let at = url;
  for (let hops = 0; ; hops++) {
    const headers: Record<string, string> = { Accept: accept, "User-Agent": ctx.userAgent };
    if (token && at.origin === url.origin) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(at, { method, headers, signal: ctx.signal, redirect: "manual" });
    if (![301, 302, 303, 307, 308].includes(res.status)) return res;
    await res.body?.cancel();
    const location = res.headers.get("location");
    let next: URL | undefined;
    try {
      next = location ? new URL(location, at) : undefined;
    } catch {
      next = undefined;
    }
    if (!next) throw new ForgeError(`${what}: ${at.host} redirects (${res.status}) without a usable Location`, "config", { status: res.status, hint: "the registry is misconfigured: ask its operators" });
    if (next.protocol !== at.protocol) {
      throw new ForgeError(`${what}: ${at.host} redirects from ${at.protocol}// to ${next.protocol}//${next.host}`, "config", {
        status: res.status, hint: "the relay follows a registry's redirects on the same scheme only: give repository_url the address the registry answers on",
      });
    }
    if (hops >= OCI_DEFAULTS.maxRedirects) throw new ForgeError(`${what}: more than ${OCI_DEFAULTS.maxRedirects} redirects`, "config", { status: res.status, hint: "the registry redirects in a loop: check repository_url" });
    at = next;
  }
}

/**
 * An anonymous token from the challenge's realm (`GET realm?service=…&scope=…`, Docker's token
 * authentication spec): `token` or its OAuth name `access_token`, valid `expires_in` seconds (60 unsaid).
 */
async function anonymousToken(challenge: Record<string, string>, repository: string, what: string, ctx: Ctx): Promise<{ token: string; ttlMs: number }> {
  const realm = challenge.realm!;
  const fail = (why: string, hint: string, status?: number) => new ForgeError(`${what}: ${why}`, "config", { status, hint });
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw fail(`the registry's token realm ${JSON.stringify(realm.slice(0, 200))} is not a URL`, "the registry is misconfigured: ask its operators");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw fail(`the registry's token service ${url.protocol}//${url.host} is not https`, "the relay fetches tokens over https only (http on loopback): the registry is misconfigured");
  }
  if (challenge.service) url.searchParams.set("service", challenge.service);
  for (const scope of (challenge.scope ?? `repository:${repository}:pull`).split(" ").filter(Boolean)) url.searchParams.append("scope", scope);
  const res = await send("GET", url, undefined, ctx, what, "application/json");
  if (res.status !== 200) {
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) throw fail(`the token service ${url.host} refuses an anonymous token (${res.status})`, PUBLIC_HINT, res.status);
    const classified = classifyHttpError({ status: res.status, message: res.statusText, response: { headers: Object.fromEntries(res.headers) } }, `${what}: token service ${url.host}`);
    if (classified.kind !== "config") throw classified;
    throw fail(`the token service ${url.host} answers ${res.status}`, "the registry's token service refuses the relay's request: ask its operators", res.status);
  }
  const body = await readCapped(res, OCI_DEFAULTS.maxTokenBytes, () => fail(`the token service's answer is larger than ${OCI_DEFAULTS.maxTokenBytes} bytes`, "the realm is not a token service: ask the registry's operators"));
  let answer: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    answer = JSON.parse(body.toString("utf8")) as typeof answer;
  } catch {
    throw fail(`the token service ${url.host} answered something other than JSON`, "the realm is not a token service: ask the registry's operators");
  }
  const token = typeof answer?.token === "string" && answer.token ? answer.token : typeof answer?.access_token === "string" && answer.access_token ? answer.access_token : undefined;
  if (!token) throw fail(`the token service ${url.host} answered without a token`, "the realm is not a token service: ask the registry's operators");
  const seconds = typeof answer.expires_in === "number" && answer.expires_in > 0 ? answer.expires_in : 60;
  // A margin for the clock and the request in flight.
  return { token, ttlMs: Math.max(0, seconds * 1000 - 10_000) };
}

/** RFC 9110's WWW-Authenticate: challenges, each a scheme and its auth-params (quoted strings unescaped). */
export function parseChallenges(header: string): { scheme: string; params: Record<string, string> }[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
  let i = 0;
  const readToken = (): string | undefined => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(header);
    if (!m) return undefined;
    i = TOKEN.lastIndex;
    return m[0];
  };
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i]!)) i++;
  };
  let current: { scheme: string; params: Record<string, string> } | undefined;
  let sawComma = false;
  while (i < header.length) {
    skip(/\s/);
    if (header[i] === ",") {
      sawComma = true;
      i++;
      continue;
    }
    const word = readToken();
    if (word === undefined) {
      i++;
      continue;
    }
    skip(/[ \t]/);
    const rest = header.slice(i);
    if (current && !sawComma && Object.keys(current.params).length === 0 && /^=*\s*(,|$)/.test(rest)) {
      skip(/=/); // a token68 (`Negotiate abc==`): nothing the relay reads
    } else if (current && rest.startsWith("=")) {
      i++;
      skip(/[ \t]/);
      let value = "";
      if (header[i] === '"') {
        for (i++; i < header.length && header[i] !== '"'; i++) value += header[i] === "\\" ? (header[++i] ?? "") : header[i];
        i++;
      } else {
        value = readToken() ?? "";
      }
      current.params[word.toLowerCase()] = value;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      out.push(current);
    }
    sawComma = false;
  }
  return out;
}

/**
 * Anonymous pull tokens by registry and repository, kept until shortly before they expire. One
 * object per process (or per watcher): it holds only tokens that any anonymous client could get.
 */
export class OciTokens {
  private readonly byImage = new Map<string, { token: string; until: number }>();
  constructor(private readonly now: () => number = Date.now) {}
  get(registry: string, repository: string): string | undefined {
    const key = `${registry} ${repository}`;
    const kept = this.byImage.get(key);
    if (kept && kept.until > this.now()) return kept.token;
    this.byImage.delete(key);
    return undefined;
  }
  set(registry: string, repository: string, token: string, ttlMs: number): void {
    const now = this.now();
    for (const [key, kept] of this.byImage) if (kept.until <= now) this.byImage.delete(key);
    if (ttlMs > 0) this.byImage.set(`${registry} ${repository}`, { token, until: now + ttlMs });
  }
  delete(registry: string, repository: string): void {
    this.byImage.delete(`${registry} ${repository}`);
  }
  get size(): number {
    return this.byImage.size;
  }
}

function statusError(res: Response, what: string): ForgeError {
  void res.body?.cancel();
  const classified = classifyHttpError({ status: res.status, message: res.statusText, response: { headers: Object.fromEntries(res.headers) } }, what);
  if (classified.kind !== "config") return classified;
  const hint = res.status === 403
    ? "the registry denies access to this repository: the relay checks public images only"
    : "the registry refused the request: check repository_url (the registry's host and the repository's path)";
  return new ForgeError(classified.message, "config", { status: res.status, hint });
}
