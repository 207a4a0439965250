import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { commentAdded, patchsetCreated, refUpdated, ZERO_SHA, type ApprovalAttribute, type ChangeAttribute, type GerritAccount, type PatchSetAttribute, type StreamEvent } from "./events.js";

/**
 * A fake Gerrit REST API on loopback, its routes, parameters and answers copied from Gerrit's
 * documentation (SOURCE.md): project, tag and change reads, anonymously or under `/a/` with HTTP
 * basic auth, and posting a review. Every answer is JSON behind Gerrit's `)]}'` line; errors are
 * plain text, as Gerrit sends them. A route, query parameter or ReviewInput field the docs do not
 * list is a `problem` (a test fails on it) and is refused (404 for a route, 400 for a parameter or
 * a body), so nothing undocumented is acted on. Tags, changes and posted reviews also go out as
 * stream events to `onEvent` listeners (the fake SSH server streams them).
 */

export interface FakeGerritOptions {
  /** the server's context path, e.g. "/r" (ONAP): every route is below it */
  contextPath?: string;
  /** the account `/a/` routes accept (HTTP basic auth) */
  user?: string;
  password?: string;
  /** `change.strictLabels` in gerrit.config: a vote on a label the project lacks fails the review instead of being ignored */
  strictLabels?: boolean;
}

export interface FakeTag {
  name: string;
  /** the commit it finally names */
  commit: string;
  /** annotated: the tag object's id and message */
  annotated?: { tagObject: string; message: string; date: string };
}

/** A label as `project.config` defines it: its values, lowest to highest. */
export type LabelRange = [min: number, max: number];

export interface FakeProject {
  name: string;
  /** readable by anonymous users (else only by the configured account) */
  anonymous: boolean;
  tags: Map<string, FakeTag>;
  labels: Record<string, LabelRange>;
}

export interface FakePatchSet {
  number: number;
  revision: string;
  ref: string;
  kind: PatchSetAttribute["kind"];
  created: number;
  uploader: GerritAccount;
}

export interface FakeChange {
  number: number;
  project: string;
  branch: string;
  changeId: string;
  subject: string;
  status: "NEW" | "MERGED" | "ABANDONED";
  owner: GerritAccount;
  created: number;
  patchSets: FakePatchSet[];
}

export interface PostedReview {
  project: string;
  change: number;
  patchSet: number;
  revision: string;
  user: string;
  /** the ReviewInput as sent */
  input: Record<string, unknown>;
  /** the votes applied (labels the project has, in range) */
  applied: Record<string, number>;
  /** labels the server ignored (not configured, or a value the label does not have) */
  ignored: string[];
}

export interface GerritRequest {
  method: string;
  /** the path as sent, percent-encoding kept */
  path: string;
  query: string;
  /** the account a `/a/` request authenticated as */
  user: string | undefined;
  headers: IncomingMessage["headers"];
  body: unknown;
  status: number;
}

interface Answer {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

const sha = (): string => randomBytes(20).toString("hex");
const changeIdOf = (): string => `I${randomBytes(20).toString("hex")}`;
const gerritTime = (sec: number): string => new Date(sec * 1000).toISOString().replace("T", " ").replace("Z", "000000");
const nowSec = (): number => Math.floor(Date.now() / 1000);
const NOTIFY = ["NONE", "OWNER", "OWNER_REVIEWERS", "ALL"];
const DRAFTS = ["KEEP", "PUBLISH", "PUBLISH_ALL_REVISIONS"];
/** Query Changes' `o` options (rest-api-changes.txt "Query Changes"); only the revisions ones change the fake's answer. */
const CHANGE_OPTIONS = new Set([
  "LABELS", "DETAILED_LABELS", "SUBMIT_REQUIREMENTS", "CURRENT_REVISION", "ALL_REVISIONS", "DOWNLOAD_COMMANDS", "DRAFT_COMMENTS", "CURRENT_COMMIT",
  "ALL_COMMITS", "CURRENT_FILES", "ALL_FILES", "DETAILED_ACCOUNTS", "REVIEWER_UPDATES", "MESSAGES", "CURRENT_ACTIONS", "CHANGE_ACTIONS",
  "REVIEWED", "SKIP_DIFFSTAT", "SUBMITTABLE", "WEB_LINKS", "CHECK", "COMMIT_FOOTERS", "PUSH_CERTIFICATES", "TRACKING_IDS",
]);

type Check = (v: unknown) => string | undefined;
const isString: Check = (v) => (typeof v === "string" ? undefined : "must be a string");
const isBoolean: Check = (v) => (typeof v === "boolean" ? undefined : "must be a boolean");
const isObject: Check = (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? undefined : "must be an object (a map)");
const isArray: Check = (v) => (Array.isArray(v) ? undefined : "must be a list");
const oneOf = (values: string[]): Check => (v) => (typeof v === "string" && values.includes(v) ? undefined : `must be one of ${values.join(", ")}`);
const labelMap: Check = (v) => {
  const o = isObject(v);
  if (o) return o;
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    if (typeof n !== "number" || !Number.isInteger(n) || n < -32768 || n > 32767) return `'${k}' must be a vote, an integer (a Java short), got ${JSON.stringify(n)}`;
  }
  return undefined;
};

/** ReviewInput's fields (rest-api-changes.txt "ReviewInput", Gerrit 3.x) and their JSON types. */
const REVIEW_INPUT: Record<string, Check> = {
  message: isString,
  tag: isString,
  labels: labelMap,
  comments: isObject,
  robot_comments: isObject,
  drafts: oneOf(DRAFTS),
  draft_ids_to_publish: isArray,
  notify: oneOf(NOTIFY),
  notify_details: isObject,
  omit_duplicate_comments: isBoolean,
  on_behalf_of: (v) => (typeof v === "string" || typeof v === "number" ? undefined : "must be an account id, name, e-mail or username"),
  reviewers: isArray,
  ready: isBoolean,
  work_in_progress: isBoolean,
  add_to_attention_set: isArray,
  remove_from_attention_set: isArray,
  ignore_automatic_attention_set_rules: isBoolean,
  response_format_options: isArray,
};

export class FakeGerrit {
  readonly requests: GerritRequest[] = [];
  readonly problems: string[] = [];
  readonly projects = new Map<string, FakeProject>();
  readonly changes: FakeChange[] = [];
  readonly reviews: PostedReview[] = [];
  /** what the configured account may vote, per label (Gerrit's label permissions); nothing by default */
  readonly grants: Record<string, LabelRange> = {};
  /** called for each request after it is recorded and before it is answered (to change the state between two pages) */
  beforeAnswer: ((request: GerritRequest) => void) | undefined;
  private readonly listeners = new Set<(e: StreamEvent) => void>();
  private readonly faults: { status: number; times: number; headers: Record<string, string>; text: string }[] = [];
  private readonly server: Server;
  private readonly context: string;
  private nextChange = 900_001;

  private constructor(private readonly o: FakeGerritOptions) {
    this.context = (o.contextPath ?? "").replace(/\/+$/, "");
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(o: FakeGerritOptions = {}): Promise<FakeGerrit> {
    const fake = new FakeGerrit(o);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    return fake;
  }

  /** the base URL the relay is given: origin and context path */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.context}`;
  }

  get account(): GerritAccount {
    const user = this.o.user ?? "openci";
    return { name: `${user} CI`, email: `${user}@example.invalid`, username: user };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Listens to the stream events the state changes produce; returns the unsubscribe. */
  onEvent(listener: (e: StreamEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next `times` requests (any route) are answered `status` with a plain-text body, as Gerrit's errors are. */
  failNext(status: number, o: { times?: number; headers?: Record<string, string>; text?: string } = {}): void {
    this.faults.push({ status, times: o.times ?? 1, headers: o.headers ?? {}, text: o.text ?? `failing on purpose (${status})` });
  }

  addProject(name: string, o: { anonymous?: boolean; labels?: Record<string, LabelRange> } = {}): FakeProject {
    const p: FakeProject = { name, anonymous: o.anonymous ?? true, tags: new Map(), labels: o.labels ?? { "Code-Review": [-2, 2], Verified: [-1, 1] } };
    this.projects.set(name, p);
    return p;
  }

  /** A tag pushed: lightweight (the ref names the commit) or annotated (the ref names a tag object naming the commit). */
  addTag(project: string, name: string, o: { commit?: string; annotated?: boolean | string } = {}): FakeTag {
    const p = this.project(project);
    if (p.tags.has(name)) throw new Error(`tag ${name} already exists in ${project}`);
    const tag = this.makeTag(name, o.commit ?? sha(), o.annotated);
    p.tags.set(name, tag);
    this.emit(refUpdated(project, `refs/tags/${name}`, ZERO_SHA, refValue(tag), this.account));
    return tag;
  }

  /** Many lightweight tags on one commit, at once (no events: a bulk import). */
  addTags(project: string, names: string[], commit = sha()): void {
    const p = this.project(project);
    for (const name of names) p.tags.set(name, { name, commit });
  }

  /** Points a tag at another commit, as a forced push does. */
  moveTag(project: string, name: string, commit: string, o: { annotated?: boolean | string } = {}): FakeTag {
    const p = this.project(project);
    const old = p.tags.get(name);
    if (!old) throw new Error(`no tag ${name} in ${project}`);
    const tag = this.makeTag(name, commit, o.annotated);
    p.tags.set(name, tag);
    this.emit(refUpdated(project, `refs/tags/${name}`, refValue(old), refValue(tag), this.account));
    return tag;
  }

  deleteTag(project: string, name: string, o: { quietly?: boolean } = {}): void {
    const p = this.project(project);
    const old = p.tags.get(name);
    if (!old) throw new Error(`no tag ${name} in ${project}`);
    p.tags.delete(name);
    if (!o.quietly) this.emit(refUpdated(project, `refs/tags/${name}`, refValue(old), ZERO_SHA, this.account));
  }

  /** A new change with its first patch set, uploaded by `owner`. */
  addChange(project: string, o: { branch?: string; subject?: string; owner?: GerritAccount; revision?: string } = {}): FakeChange {
    this.project(project);
    const owner = o.owner ?? { name: "Jane Developer", email: "jane@example.invalid", username: "jane" };
    const change: FakeChange = {
      number: this.nextChange++, project, branch: o.branch ?? "master", changeId: changeIdOf(), subject: o.subject ?? "Fix the thing",
      status: "NEW", owner, created: nowSec(), patchSets: [],
    };
    this.changes.push(change);
    this.addPatchSet(change.number, { revision: o.revision, uploader: owner });
    return change;
  }

  /** A new patch set on a change (a new commit uploaded for it). */
  addPatchSet(change: number, o: { revision?: string | undefined; kind?: FakePatchSet["kind"]; uploader?: GerritAccount } = {}): FakePatchSet {
    const c = this.change(change);
    const n = c.patchSets.length + 1;
    const ps: FakePatchSet = {
      number: n, revision: o.revision ?? sha(), ref: `refs/changes/${String(c.number % 100).padStart(2, "0")}/${c.number}/${n}`,
      kind: o.kind ?? "REWORK", created: nowSec(), uploader: o.uploader ?? c.owner,
    };
    c.patchSets.push(ps);
    this.emit(patchsetCreated(this.changeAttribute(c), this.patchSetAttribute(c, ps)));
    return ps;
  }

  /** A reviewer's comment on a patch set (the latest unless named), as Gerrit streams it: "Patch Set N:" first. */
  comment(change: number, text: string, o: { patchSet?: number; author?: GerritAccount } = {}): void {
    const c = this.change(change);
    const ps = o.patchSet ? c.patchSets[o.patchSet - 1] : c.patchSets.at(-1);
    if (!ps) throw new Error(`no patch set ${o.patchSet} on change ${change}`);
    const author = o.author ?? { name: "Reviewer", email: "reviewer@example.invalid", username: "reviewer" };
    this.emit(commentAdded(this.changeAttribute(c), this.patchSetAttribute(c, ps), author, `Patch Set ${ps.number}:\n\n${text}`));
  }

  calls(method: string, pathPattern: RegExp): GerritRequest[] {
    return this.requests.filter((r) => r.method === method && pathPattern.test(r.path));
  }

  private emit(e: StreamEvent): void {
    for (const l of this.listeners) l(e);
  }

  private project(name: string): FakeProject {
    const p = this.projects.get(name);
    if (!p) throw new Error(`no project ${name} in the fake Gerrit`);
    return p;
  }

  private change(n: number): FakeChange {
    const c = this.changes.find((x) => x.number === n);
    if (!c) throw new Error(`no change ${n} in the fake Gerrit`);
    return c;
  }

  private makeTag(name: string, commit: string, annotated: boolean | string | undefined): FakeTag {
    if (!annotated) return { name, commit };
    return { name, commit, annotated: { tagObject: sha(), message: typeof annotated === "string" ? annotated : `Release ${name}`, date: gerritTime(nowSec()) } };
  }

  private changeAttribute(c: FakeChange): ChangeAttribute {
    return {
      project: c.project, branch: c.branch, id: c.changeId, number: c.number, subject: c.subject, owner: c.owner,
      url: `${this.url}/c/${c.project}/+/${c.number}`, commitMessage: `${c.subject}\n\nChange-Id: ${c.changeId}\n`, createdOn: c.created, status: c.status,
    };
  }

  private patchSetAttribute(_c: FakeChange, ps: FakePatchSet): PatchSetAttribute {
    return {
      number: ps.number, revision: ps.revision, parents: [sha()], ref: ps.ref, uploader: ps.uploader, author: ps.uploader,
      createdOn: ps.created, kind: ps.kind, sizeInsertions: 10, sizeDeletions: 2,
    };
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const seen: GerritRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search.slice(1), user: undefined, headers: req.headers, body: raw || undefined, status: 0 };
    this.requests.push(seen);
    const a = this.answer(req, seen, url, raw);
    seen.status = a.status;
    const headers: Record<string, string> = { ...a.headers };
    let text: string;
    if (a.json !== undefined) {
      headers["content-type"] = "application/json; charset=UTF-8";
      headers["content-disposition"] = "attachment";
      text = `)]}'\n${JSON.stringify(a.json)}`;
    } else {
      headers["content-type"] = "text/plain; charset=UTF-8";
      text = a.text ?? "";
    }
    res.writeHead(a.status, { ...headers, "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  }

  private problem(seen: GerritRequest, what: string): void {
    this.problems.push(`gerrit: ${seen.method} ${seen.path}${seen.query ? `?${seen.query}` : ""}: ${what}`);
  }

  private answer(req: IncomingMessage, seen: GerritRequest, url: URL, raw: string): Answer {
    let path = url.pathname;
    if (this.context) {
      if (!path.startsWith(`${this.context}/`)) {
        this.problem(seen, `outside the server's context path ${this.context}`);
        return { status: 404, text: "Not Found" };
      }
      path = path.slice(this.context.length);
    }
    let user: string | undefined;
    if (path.startsWith("/a/")) {
      const auth = req.headers.authorization ?? "";
      const m = /^Basic (.+)$/i.exec(auth);
      const [u, ...rest] = m ? Buffer.from(m[1]!, "base64").toString("utf8").split(":") : [];
      if (!this.o.user || u !== this.o.user || rest.join(":") !== this.o.password) {
        return { status: 401, text: "Unauthorized", headers: { "www-authenticate": 'Basic realm="Gerrit Code Review"' } };
      }
      user = u;
      seen.user = u;
      path = path.slice(2);
    } else if (req.headers.authorization) {
      this.problem(seen, "credentials sent on an anonymous route (Gerrit only reads them under /a/)");
    }
    this.beforeAnswer?.(seen);
    const fault = this.faults.find((f) => f.times > 0);
    if (fault) {
      fault.times--;
      return { status: fault.status, text: fault.text, headers: fault.headers };
    }
    let segs: string[];
    try {
      segs = path.slice(1).split("/").map((s) => decodeURIComponent(s));
    } catch {
      this.problem(seen, "broken percent-encoding");
      return { status: 400, text: "Bad Request" };
    }
    const method = seen.method;
    const params = new URLSearchParams(url.search);
    const route = (m: string, ok: boolean): boolean => {
      if (!ok) return false;
      if (method !== m) {
        this.problem(seen, `${method} is not a documented method of this route (the fake answers ${m})`);
        return false;
      }
      return true;
    };

    if (segs[0] === "projects" && segs.length === 2 && route("GET", true)) {
      if (!this.noQuery(seen, params)) return { status: 400, text: "Bad Request" };
      return this.getProject(segs[1]!, user);
    }
    if (segs[0] === "projects" && segs[2] === "tags" && (segs.length === 3 || (segs.length === 4 && segs[3] === "")) && route("GET", true)) {
      return this.listTags(seen, segs[1]!, params, user);
    }
    if (segs[0] === "projects" && segs[2] === "tags" && segs.length === 4 && route("GET", true)) {
      if (!this.noQuery(seen, params)) return { status: 400, text: "Bad Request" };
      return this.getTag(segs[1]!, segs[3]!, user);
    }
    if (segs[0] === "changes" && segs.length === 2 && segs[1] !== "" && route("GET", true)) {
      return this.getChange(seen, segs[1]!, params, user);
    }
    if (segs[0] === "changes" && segs.length === 5 && segs[2] === "revisions" && segs[4] === "review" && route("POST", true)) {
      if (!this.noQuery(seen, params)) return { status: 400, text: "Bad Request" };
      return this.postReview(req, seen, segs[1]!, segs[3]!, raw, user);
    }
    if (!this.problems.some((p) => p.includes(`${seen.method} ${seen.path}`))) this.problem(seen, "not a documented route of the fake (SOURCE.md)");
    return { status: 404, text: "Not Found" };
  }

  private noQuery(seen: GerritRequest, params: URLSearchParams): boolean {
    const keys = [...params.keys()];
    if (keys.length === 0) return true;
    this.problem(seen, `the route takes no query parameters, got ${keys.join(", ")}`);
    return false;
  }

  private visible(name: string, user: string | undefined): FakeProject | undefined {
    const p = this.projects.get(name);
    return p && (p.anonymous || user !== undefined) ? p : undefined;
  }

  private getProject(name: string, user: string | undefined): Answer {
    const p = this.visible(name, user);
    if (!p) return { status: 404, text: `Not found: ${name}` };
    const labels = Object.fromEntries(Object.entries(p.labels).map(([label, [min, max]]) => [label, {
      values: Object.fromEntries(Array.from({ length: max - min + 1 }, (_, i) => min + i).map((v) => [v > 0 ? `+${v}` : v === 0 ? " 0" : String(v), v === 0 ? "No score" : `${label} ${v}`])),
      default_value: 0,
    }]));
    return { status: 200, json: { id: encodeURIComponent(p.name), name: p.name, parent: "All-Projects", state: "ACTIVE", labels } };
  }

  /** List Tags: sorted by ref, filtered by `m` (substring, any case) or `r` (regex, anchored), then `S` skipped and `n` kept. */
  private listTags(seen: GerritRequest, name: string, params: URLSearchParams, user: string | undefined): Answer {
    const allowed = new Set(["n", "S", "s", "m", "r"]);
    for (const key of new Set(params.keys())) {
      if (!allowed.has(key)) {
        this.problem(seen, `'${key}' is not a List Tags option (n, S/s, m, r)`);
        return { status: 400, text: `"${key}" is not a valid option` };
      }
      if (params.getAll(key).length > 1) {
        this.problem(seen, `'${key}' given twice`);
        return { status: 400, text: "Bad Request" };
      }
    }
    for (const key of ["n", "S", "s"]) {
      const v = params.get(key);
      if (v !== null && !/^\d+$/.test(v)) {
        this.problem(seen, `'${key}' must be a count, got ${JSON.stringify(v)}`);
        return { status: 400, text: `"${v}" is not a valid value for "${key}"` };
      }
    }
    if (params.has("m") && params.has("r")) {
      this.problem(seen, "'m' and 'r' may not be used together");
      return { status: 400, text: "specify exactly one of m/r" };
    }
    const p = this.visible(name, user);
    if (!p) return { status: 404, text: `Not found: ${name}` };
    let tags = [...p.tags.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const m = params.get("m");
    if (m !== null) tags = tags.filter((t) => t.name.toLowerCase().includes(m.toLowerCase()));
    const r = params.get("r");
    if (r !== null) {
      const re = new RegExp(`^(?:${r})$`);
      tags = tags.filter((t) => re.test(t.name));
    }
    const start = Number(params.get("S") ?? params.get("s") ?? 0);
    const limit = Number(params.get("n") ?? 0);
    tags = tags.slice(start, limit > 0 ? start + limit : undefined);
    return { status: 200, json: tags.map(tagInfo) };
  }

  private getTag(name: string, tag: string, user: string | undefined): Answer {
    const p = this.visible(name, user);
    if (!p) return { status: 404, text: `Not found: ${name}` };
    const t = p.tags.get(tag.startsWith("refs/tags/") ? tag.slice("refs/tags/".length) : tag);
    if (!t) return { status: 404, text: `Not found: ${tag}` };
    return { status: 200, json: tagInfo(t) };
  }

  /** {change-id}: `<project>~<number>`, `<project>~<branch>~<Change-Id>`, a number, or a Change-Id (rest-api-changes.txt "IDs"). */
  private findChange(id: string, user: string | undefined): FakeChange | undefined {
    let found: FakeChange | undefined;
    let m: RegExpExecArray | null;
    if ((m = /^(.+)~(.+)~(I[0-9a-f]{40})$/.exec(id))) found = this.changes.find((c) => c.project === m![1] && c.branch === m![2] && c.changeId === m![3]);
    else if ((m = /^(.+)~(\d+)$/.exec(id))) found = this.changes.find((c) => c.project === m![1] && c.number === Number(m![2]));
    else if (/^\d+$/.test(id)) found = this.changes.find((c) => c.number === Number(id));
    else if (/^I[0-9a-f]{40}$/.test(id)) found = this.changes.find((c) => c.changeId === id);
    return found && this.visible(found.project, user) ? found : undefined;
  }

  private getChange(seen: GerritRequest, id: string, params: URLSearchParams, user: string | undefined): Answer {
    for (const key of new Set(params.keys())) {
      if (key !== "o") {
        this.problem(seen, `'${key}' is not a Get Change option (o)`);
        return { status: 400, text: `"${key}" is not a valid option` };
      }
    }
    const options = params.getAll("o");
    for (const o of options) {
      if (!CHANGE_OPTIONS.has(o)) {
        this.problem(seen, `'o=${o}' is not a documented option`);
        return { status: 400, text: `"${o}" is not a valid value for "-o"` };
      }
    }
    const c = this.findChange(id, user);
    if (!c) return { status: 404, text: `Not found: ${id}` };
    const current = c.patchSets.at(-1)!;
    const revisions = options.includes("ALL_REVISIONS") ? c.patchSets : options.includes("CURRENT_REVISION") ? [current] : [];
    return {
      status: 200,
      json: {
        id: `${encodeURIComponent(c.project)}~${c.branch}~${c.changeId}`, project: c.project, branch: c.branch, change_id: c.changeId, subject: c.subject,
        status: c.status, created: gerritTime(c.created), updated: gerritTime(current.created), insertions: 10, deletions: 2, _number: c.number,
        owner: { _account_id: 1000001 },
        ...(revisions.length ? {
          current_revision: current.revision,
          revisions: Object.fromEntries(revisions.map((ps) => [ps.revision, { kind: ps.kind, _number: ps.number, created: gerritTime(ps.created), uploader: { _account_id: 1000001 }, ref: ps.ref }])),
        } : {}),
      },
    };
  }

  /** Set Review: the body is a ReviewInput, checked field by field; votes as Gerrit 3.x applies them. */
  private postReview(req: IncomingMessage, seen: GerritRequest, changeId: string, revisionId: string, raw: string, user: string | undefined): Answer {
    if (!user) {
      this.problem(seen, "a review is posted under /a/ as an account");
      return { status: 403, text: "Authentication required" };
    }
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      this.problem(seen, `the body must be sent as application/json, got ${req.headers["content-type"] ?? "no Content-Type"}`);
      return { status: 400, text: "Bad Request" };
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(raw) as Record<string, unknown>;
      if (isObject(input)) throw new Error("not an object");
    } catch {
      this.problem(seen, "the body is not a JSON object");
      return { status: 400, text: "Bad Request" };
    }
    seen.body = input;
    const wrong: string[] = [];
    for (const [key, value] of Object.entries(input)) {
      if (key === "strict_labels") wrong.push("'strict_labels' is not a ReviewInput field since Gerrit 2.15 (current servers ignore it)");
      else if (!REVIEW_INPUT[key]) wrong.push(`'${key}' is not a ReviewInput field`);
      else {
        const why = REVIEW_INPUT[key]!(value);
        if (why) wrong.push(`'${key}' ${why}`);
      }
    }
    if (input.ready === true && input.work_in_progress === true) wrong.push("work_in_progress and ready are mutually exclusive");
    if (wrong.length) {
      for (const w of wrong) this.problem(seen, `body: ${w}`);
      return { status: 400, text: wrong.join("; ") };
    }
    const c = this.findChange(changeId, user);
    if (!c) return { status: 404, text: `Not found: ${changeId}` };
    const ps = revisionId === "current" ? c.patchSets.at(-1)
      : /^\d+$/.test(revisionId) && Number(revisionId) <= c.patchSets.length ? c.patchSets[Number(revisionId) - 1]
        : /^[0-9a-f]{4,40}$/.test(revisionId) ? c.patchSets.find((p) => p.revision.startsWith(revisionId)) : undefined;
    if (!ps) return { status: 404, text: `Not found: ${revisionId}` };

    const project = this.project(c.project);
    const applied: Record<string, number> = {};
    const ignored: string[] = [];
    for (const [label, value] of Object.entries((input.labels ?? {}) as Record<string, number>)) {
      const range = project.labels[label];
      if (!range) {
        if (this.o.strictLabels) return { status: 400, text: `label "${label}" is not a configured label` };
        ignored.push(label);
        continue;
      }
      if (value !== 0 && (value < range[0] || value > range[1])) {
        if (this.o.strictLabels) return { status: 400, text: `label "${label}": ${value} is not a valid value` };
        ignored.push(label);
        continue;
      }
      const grant = this.grants[label];
      if (value !== 0 && (!grant || value < grant[0] || value > grant[1])) return { status: 403, text: `Applying label "${label}": ${value} is restricted` };
      applied[label] = value;
    }
    this.reviews.push({ project: c.project, change: c.number, patchSet: ps.number, revision: ps.revision, user, input, applied, ignored });
    const votes = Object.entries(applied).map(([l, v]) => ` ${l}${v > 0 ? "+" : ""}${v}`).join("");
    const approvals: ApprovalAttribute[] = Object.entries(applied).map(([l, v]) => ({ type: l, description: l, value: String(v), grantedOn: nowSec(), by: this.account }));
    const message = typeof input.message === "string" && input.message ? `\n\n${input.message}` : "";
    this.emit(commentAdded(this.changeAttribute(c), this.patchSetAttribute(c, ps), this.account, `Patch Set ${ps.number}:${votes}${message}`, approvals));
    return { status: 200, json: Object.keys(applied).length || input.labels ? { labels: applied } : {} };
  }
}

function refValue(t: FakeTag): string {
  return t.annotated?.tagObject ?? t.commit;
}

/** TagInfo (rest-api-projects.txt): annotated tags add `object`, `message`, `tagger`. */
function tagInfo(t: FakeTag): Record<string, unknown> {
  if (!t.annotated) return { ref: `refs/tags/${t.name}`, revision: t.commit, created: gerritTime(nowSec()) };
  return {
    ref: `refs/tags/${t.name}`, revision: t.annotated.tagObject, object: t.commit, message: t.annotated.message,
    tagger: { name: "Release Manager", email: "release@example.invalid", date: t.annotated.date, tz: 0 }, created: t.annotated.date,
  };
}
