import { classifyHttpError, ForgeError, fetchFailure } from "../forge/errors.js";
import { readCapped } from "../util/read-capped.js";

/**
 * A git host's tags, read the way `git ls-remote` reads them over smart HTTP: one
 * `GET <url>/info/refs?service=git-upload-pack`, answered with the ref advertisement of protocol
 * v0/v1 (gitprotocol-http(5), gitprotocol-pack(5)). No API, no token: any public repository on any
 * host that speaks smart HTTP (git http-backend, cgit, Gitea, Gerrit, GitHub, GitLab).
 */

export interface GitTag {
  /** the tag's name, without `refs/tags/` */
  name: string;
  /** the object the tag finally names: an annotated tag's peeled (`^{}`) value, else the ref's own (a commit, unless someone tagged a tree or a blob) */
  sha: string;
}

export type GitTags =
  | { notModified: false; tags: GitTag[]; etag: string | undefined }
  | { notModified: true; etag: string | undefined };

export interface ListGitTagsOptions {
  /** the ETag of the last answer: sent as If-None-Match, so a caching proxy can answer 304 */
  etag?: string | undefined;
  /** the whole exchange, body included (default 20 s) */
  timeoutMs?: number;
  /** the largest advertisement read (default 32 MiB) */
  maxBytes?: number;
  /** the caller's own cancellation: its reason is thrown as it is */
  signal?: AbortSignal;
  userAgent?: string;
}

export const GIT_REFS_DEFAULTS = { timeoutMs: 20_000, maxBytes: 32 * 1024 * 1024, userAgent: "openci-relay" } as const;

const ADVERTISEMENT = "application/x-git-upload-pack-advertisement";
const CLONE_HINT = "give the address you would `git clone` over https (https://host/path, with or without .git)";

/**
 * The repository's tags, in the server's order (by name: the advertisement carries no dates). Throws
 * a ForgeError: `config` for what only a person can fix (not a git repository, not public, too many
 * refs, a broken server), `transient` for a timeout, a network error, a 5xx or a cut-off answer.
 */
export async function listGitTags(url: string, opts: ListGitTagsOptions = {}): Promise<GitTags> {
  const endpoint = infoRefsUrl(url);
  const what = `reading the tags of ${url}`;
  const timeoutMs = opts.timeoutMs ?? GIT_REFS_DEFAULTS.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const headers: Record<string, string> = { "User-Agent": opts.userAgent ?? GIT_REFS_DEFAULTS.userAgent };
  if (opts.etag) headers["If-None-Match"] = opts.etag;
  try {
    const res = await fetch(endpoint, { headers, signal });
    const etag = res.headers.get("etag") ?? undefined;
    if (res.status === 304) {
      await res.body?.cancel();
      return { notModified: true, etag: etag ?? opts.etag };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw statusError(res, url, what);
    }
    checkContentType(res, url, what);
    const body = await readAdvertisement(res, opts.maxBytes ?? GIT_REFS_DEFAULTS.maxBytes, url, what);
    return { notModified: false, tags: parseAdvertisement(body, what), etag };
  } catch (err) {
    throw fetchFailure(err, what, { signal: opts.signal, timeout, timeoutMs, slow: "the git host" });
  }
}

function infoRefsUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ForgeError(`${JSON.stringify(url)} is not a URL`, "config", { hint: CLONE_HINT });
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new ForgeError(`${url}: only http(s) git URLs can be watched, not ${u.protocol}`, "config", { hint: CLONE_HINT });
  }
  if (u.username || u.password) throw new ForgeError(`${u.host}: a git URL to watch must not carry credentials`, "config", { hint: "the relay reads public repositories only; remove user:password@ from the URL" });
  if (u.search || u.hash) throw new ForgeError(`${url}: a git URL to watch has no ?query or #fragment`, "config", { hint: CLONE_HINT });
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}/info/refs?service=git-upload-pack`;
}

function statusError(res: Response, url: string, what: string): ForgeError {
  const classified = classifyHttpError({ status: res.status, message: res.statusText, response: { headers: Object.fromEntries(res.headers) } }, what);
  if (classified.kind === "rate_limited") return classified;
  const status = res.status;
  if (status === 404 || status === 410) return new ForgeError(`no git repository at ${url} (${status})`, "config", { status, hint: CLONE_HINT });
  if (status === 401 || status === 403) {
    return new ForgeError(`${what}: ${status}, the host wants credentials or refuses fetches`, "config", {
      status,
      hint: "the relay reads git hosts without credentials: the repository must be public and its host must allow smart HTTP fetches (some hosts, GitHub among them, also answer 401 for a repository that does not exist)",
    });
  }
  return classified;
}

function checkContentType(res: Response, url: string, what: string): void {
  const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === ADVERTISEMENT) return;
  void res.body?.cancel();
  if (type === "text/html" || type === "application/xhtml+xml") {
    throw new ForgeError(`${what}: ${url} answers with a web page (${type}), not a git repository`, "config", {
      hint: `${CLONE_HINT}; a login page means the repository is not public`,
    });
  }
  throw new ForgeError(`${what}: ${url} does not speak git's smart HTTP protocol (content type ${type || "missing"}, not ${ADVERTISEMENT})`, "config", {
    hint: "a dumb HTTP git server (static files) cannot be watched: the host must run git http-backend or another smart HTTP server, as every forge does",
  });
}

function readAdvertisement(res: Response, max: number, url: string, what: string): Promise<Buffer> {
  return readCapped(res, max, () => new ForgeError(`${what}: the ref advertisement of ${url} is larger than ${max} bytes`, "config", {
    hint: "the repository has too many refs to watch over smart HTTP (hosts that advertise every pull-request or review ref, like Gerrit's refs/changes); watch it through its API instead",
  }));
}

const FLUSH = Symbol("flush");
type Packet = Buffer | typeof FLUSH;

/** Thrown inside the parser: the answer ended early (worth a retry), the server sent ERR, or it is not git. */
class Malformed extends Error {
  constructor(message: string, readonly why: "cut" | "refused" | "broken" = "broken") {
    super(message);
  }
}

/** pkt-lines (gitprotocol-common(5)): 4 hex digits of length, itself included; `0000` is a flush. */
class PktReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.at >= this.buf.length;
  }
  next(): Packet {
    if (this.at + 4 > this.buf.length) throw new Malformed("the answer ends before the final flush-pkt", "cut");
    const head = this.buf.toString("latin1", this.at, this.at + 4);
    if (!/^[0-9a-f]{4}$/i.test(head)) throw new Malformed(`bad pkt-line length ${JSON.stringify(head)} at byte ${this.at}`);
    const len = parseInt(head, 16);
    if (len === 0) {
      this.at += 4;
      return FLUSH;
    }
    if (len < 4) throw new Malformed(`pkt-line length ${head} at byte ${this.at} (a protocol v2 delimiter?)`);
    if (len > 65520) throw new Malformed(`pkt-line length ${head} at byte ${this.at} is over the protocol's 65520`);
    if (this.at + len > this.buf.length) throw new Malformed("the answer ends inside a pkt-line", "cut");
    const payload = this.buf.subarray(this.at + 4, this.at + len);
    this.at += len;
    return payload;
  }
}

const line = (p: Buffer): string => p.toString("utf8").replace(/\n$/, "");

function parseAdvertisement(body: Buffer, what: string): GitTag[] {
  try {
    return tagsOf(body);
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    if (err.why === "cut") throw new ForgeError(`${what}: ${err.message}`, "transient", { hint: "the connection was cut; the next poll tries again" });
    if (err.why === "refused") throw new ForgeError(`${what}: ${err.message}`, "config", { hint: "the git host refused to list the repository's refs: check the URL and that the repository is public" });
    throw new ForgeError(`${what}: not a valid git ref advertisement: ${err.message}`, "config", {
      hint: "check that the URL is a git repository served over smart HTTP; if it is, its server is at fault",
    });
  }
}

function tagsOf(body: Buffer): GitTag[] {
  const r = new PktReader(body);
  const service = r.next();
  if (service !== FLUSH) refuseErr(service);
  // The protocol's own check: a smart answer starts with `<4 hex digits>#`.
  if (service === FLUSH || service[0] !== 0x23) throw new Malformed("it does not start with the `# service=git-upload-pack` line");
  if (line(service) !== "# service=git-upload-pack") throw new Malformed(`it is for ${JSON.stringify(line(service).slice(2, 60))}, not service=git-upload-pack`);
  let p = r.next();
  if (p === FLUSH) p = r.next(); // some old servers send no flush after the service line
  if (p !== FLUSH && line(p) === "version 1") p = r.next();

  const tags = new Map<string, string>();
  let idLength = 40;
  let previous: string | undefined;
  for (let first = true; p !== FLUSH; p = r.next(), first = false) {
    refuseErr(p);
    let text = line(p);
    const nul = text.indexOf("\0");
    if (nul >= 0) {
      if (!first) throw new Malformed("capabilities (after a NUL) on a ref line other than the first");
      if (/(^| )object-format=sha256( |$)/.test(text.slice(nul + 1))) idLength = 64;
      text = text.slice(0, nul);
    }
    if (text.startsWith("shallow ")) continue;
    const space = text.indexOf(" ");
    const id = text.slice(0, space).toLowerCase();
    const ref = text.slice(space + 1);
    if (space < 0 || !new RegExp(`^[0-9a-f]{${idLength}}$`).test(id)) throw new Malformed(`not "<${idLength} hex digits> <ref>": ${JSON.stringify(text.slice(0, 120))}`);
    if (first && ref === "capabilities^{}" && /^0+$/.test(id)) continue; // an empty repository's only line (git ≥ 2.41 sends it; older git sends no line at all)
    if (/^0+$/.test(id)) throw new Malformed(`${ref} names the zero id`);
    if (ref.endsWith("^{}")) {
      const base = ref.slice(0, -3);
      if (base !== previous) throw new Malformed(`${ref} does not follow ${base}`);
      if (base.startsWith("refs/tags/")) tags.set(base.slice("refs/tags/".length), id);
      previous = undefined;
      continue;
    }
    previous = ref;
    if (!ref.startsWith("refs/tags/")) continue;
    const name = ref.slice("refs/tags/".length);
    if (!validRefName(name)) throw new Malformed(`invalid tag name ${JSON.stringify(name.slice(0, 120))}`);
    if (tags.has(name)) throw new Malformed(`${ref} is advertised twice`);
    tags.set(name, id);
  }
  if (!r.done) throw new Malformed("data after the final flush-pkt");
  return [...tags].map(([name, sha]) => ({ name, sha }));
}

/** An ERR packet (gitprotocol-pack(5)) ends the exchange with the server's own words. */
function refuseErr(p: Buffer): void {
  if (!p.subarray(0, 4).equals(Buffer.from("ERR "))) return;
  const said = line(p).slice(4).replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 200);
  throw new Malformed(`the server refused: ${said}`, "refused");
}

/** git-check-ref-format(1)'s rules, for the part after refs/tags/. */
function validRefName(name: string): boolean {
  if (name === "" || name === "@" || name.endsWith("/") || name.endsWith(".")) return false;
  if (/[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{/.test(name)) return false;
  return name.split("/").every((c) => c !== "" && !c.startsWith(".") && !c.endsWith(".lock"));
}
