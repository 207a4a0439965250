import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { attributesOf, checkAttributes, type Attribute, type DocParam } from "./attributes.js";
import { checkAgainstExample } from "./examples.js";

/**
 * A fake GitLab API v4 on loopback that the real @gitbeaker/rest client talks to. Routes and
 * parameters come from GitLab's documentation (api/*.json, copied from the docs with SOURCE.md):
 * an undocumented route, an unknown or a missing required attribute, one of another type than the
 * doc's or outside the values it lists, is recorded as a problem (attributes.ts).
 * It keeps what a relay can change (pipelines, commit statuses, notes, commit threads) and answers
 * as GitLab does where it matters: a status cannot be set to the state it has (400).
 */
interface DocRoute {
  method: string;
  regex: RegExp;
  names: string[];
  params: Map<string, Attribute>;
  doc: string;
  /** the doc's success status, where it documents one, and its example response */
  status?: number;
  example: unknown;
}

export interface RecordedGitlabRequest {
  method: string;
  path: string;
  doc: string | undefined;
  params: Record<string, unknown>;
  /** the URL's query string as sent (a secret must never be in it) */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

export interface FakePipeline {
  id: number;
  project: string;
  ref: string;
  sha: string;
  status: string;
  /** GitLab's `tag` flag: a pipeline of a tag */
  tag: boolean;
  variables: { key: string; value: string }[];
  /** `artifacts`: the file name of the job's artifacts archive, if it has one */
  jobs: { name: string; status: string; artifacts?: string }[];
  /** `trigger` when started with a pipeline trigger token, else `api` */
  source: string;
  retried: number;
}

export interface FakeCommitStatus {
  id: number;
  project: string;
  sha: string;
  name: string;
  status: string;
  ref: string | undefined;
  target_url: string | undefined;
  description: string | undefined;
}

export interface FakeNote {
  id: number;
  body: string;
  updated: number;
  /** who wrote it: the token's user (the relay) unless planted by someone else */
  author?: { id: number; username: string };
}

export interface FakeMergeRequest {
  project: string;
  iid: number;
  state: "opened" | "merged" | "closed";
  /** commits the merge request brought in */
  shas: string[];
  notes: FakeNote[];
}

/** A project webhook (project_webhooks.md): its secret token is kept, never answered. */
export interface FakeHook {
  id: number;
  project: string;
  url: string;
  token: string | undefined;
  events: Record<string, boolean>;
  enable_ssl_verification: boolean;
}

/** The events a project webhook has, and GitLab's default for each (a new hook gets push events unless told otherwise). */
const HOOK_EVENTS: Record<string, boolean> = {
  push_events: true, tag_push_events: false, issues_events: false, confidential_issues_events: false, merge_requests_events: false,
  note_events: false, confidential_note_events: false, job_events: false, pipeline_events: false, wiki_page_events: false,
  deployment_events: false, releases_events: false, feature_flag_events: false, resource_access_token_events: false,
};

export interface FakeThread {
  id: string;
  project: string;
  sha: string;
  notes: FakeNote[];
}

interface Fault {
  doc: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  times: number;
}

const DONE = new Set(["success", "failed", "canceled", "skipped"]);
/** Routes GitLab answers without a token for a public project (their docs say so). */
const ANONYMOUS_READS = new Set(["get_project", "list_repository_tags", "get_tag"]);
/** The state machine behind POST /statuses: the events GitLab fires to reach each state, and from where. */
const REACHABLE_FROM: Record<string, string[]> = {
  pending: ["created"],
  running: ["created", "pending"],
  success: ["created", "pending", "running"],
  failed: ["created", "pending", "running"],
  canceled: ["created", "pending", "running"],
  skipped: ["created", "pending"],
};

const routes: DocRoute[] = readdirSync(new URL("./api/", import.meta.url))
  .filter((f) => f.endsWith(".json"))
  .map((file) => {
    const doc = JSON.parse(readFileSync(new URL(`./api/${file}`, import.meta.url), "utf8")) as { request: string; params: DocParam[]; status?: number; response?: unknown };
    const [method, path] = doc.request.split(" ") as [string, string];
    const names: string[] = [];
    const pattern = path.split("/").map((seg) => (seg.startsWith(":") ? (names.push(seg.slice(1)), "([^/]+)") : seg)).join("/");
    return {
      method, regex: new RegExp(`^${pattern}$`), names, doc: file.replace(/\.json$/, ""),
      params: attributesOf(doc.params, file), status: doc.status, example: doc.response,
    };
  });

export interface FakeGitlabOptions {
  /** project → branch → its head commit and files (path → text), for metadata repositories */
  contents?: Record<string, Record<string, { sha: string; files: Record<string, string> }>>;
  token: string;
  projects: string[];
  /** project → its pipeline trigger token */
  triggerTokens?: Record<string, string>;
  /** project → tag name → commit */
  tags?: Record<string, Record<string, string>>;
  /** project → its visibility (default public) */
  visibility?: Record<string, "public" | "internal" | "private">;
}

export class FakeGitlab {
  readonly requests: RecordedGitlabRequest[] = [];
  readonly problems: string[] = [];
  readonly pipelines: FakePipeline[] = [];
  readonly statuses: FakeCommitStatus[] = [];
  /** every state a status was set to, in order, by "project@sha name" */
  readonly statusHistory: Record<string, string[]> = {};
  readonly mergeRequests: FakeMergeRequest[] = [];
  readonly threads: FakeThread[] = [];
  /** project webhooks (GET/POST /projects/:id/hooks, PUT …/hooks/:hook_id) */
  readonly hooks: FakeHook[] = [];
  private readonly faults: Fault[] = [];
  private readonly lost: { doc: string; times: number }[] = [];
  private readonly server: Server;
  private nextId = 7000;

  private constructor(private readonly o: FakeGitlabOptions) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** Sets a project's tags (name → commit), as a push would. */
  setTags(project: string, tags: Record<string, string>): void {
    this.o.tags = { ...this.o.tags, [project]: tags };
  }

  static async start(o: FakeGitlabOptions): Promise<FakeGitlab> {
    const fake = new FakeGitlab(o);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get token(): string {
    return this.o.token;
  }

  calls(doc: string): RecordedGitlabRequest[] {
    return this.requests.filter((r) => r.doc === doc);
  }

  /** The next `times` calls of a documented route answer `status` (e.g. 429 with Retry-After). */
  failNext(doc: string, status: number, o: { headers?: Record<string, string>; body?: unknown; times?: number } = {}): void {
    this.faults.push({ doc, status, headers: o.headers ?? {}, body: o.body ?? { message: `${status}` }, times: o.times ?? 1 });
  }

  /**
   * The next `times` calls of a documented route are acted on, then their connection is cut
   * before any answer: GitLab did the work (a status set, a note written) and the relay never heard.
   */
  loseResponse(doc: string, times = 1): void {
    this.lost.push({ doc, times });
  }

  /** Moves a branch of a project to a new commit with these files. */
  setContents(project: string, branch: string, head: { sha: string; files: Record<string, string> }): void {
    ((this.o.contents ??= {})[project] ??= {})[branch] = head;
  }

  /** The latest status named `name` on a commit. */
  status(project: string, sha: string, name: string): FakeCommitStatus | undefined {
    return this.statuses.filter((s) => s.project === project && s.sha === sha && s.name === name).at(-1);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const raw = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
    });
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/^\/api\/v4/, "");
    const route = routes.find((r) => r.method === method && r.regex.test(path));
    const json = String(req.headers["content-type"] ?? "").startsWith("application/json");
    const body = await parseBody(raw, String(req.headers["content-type"] ?? ""));
    const pathParams = route ? Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(route.regex.exec(path)![i + 1]!)])) : {};
    const query = groupBrackets([...url.searchParams.keys()].map((k) => [k, url.searchParams.getAll(k)]));
    const params: Record<string, any> = { ...query, ...body, ...pathParams };
    this.requests.push({ method, path, doc: route?.doc, params, query: url.search, headers: req.headers, at: Date.now() });
    if (!url.pathname.startsWith("/api/v4/") || !route) {
      this.problems.push(`${method} ${url.pathname} is not a documented GitLab API route`);
      return send(res, 404, { message: "404 Not Found" });
    }
    const sent = { text: { ...query, ...(json ? {} : body), ...pathParams }, json: json ? body : {} };
    const invalid = checkAttributes(route.params, sent);
    invalid.forEach((p) => this.problems.push(`${method} ${path}: ${p}`));
    const project = String(pathParams.id);
    const byTriggerToken = route.doc === "trigger_pipeline";
    // trigger_pipeline.json lists `token` among the body's parameters; a secret in a URL ends up in proxies' and servers' logs.
    if (url.searchParams.has("token") || url.searchParams.has("private_token")) this.problems.push(`${method} ${path}: a token in the URL's query string`);
    // "This endpoint can be accessed without authentication if the project is publicly accessible."
    // The same for a public project's tags (tags.md: "If the repository is publicly accessible, this endpoint can be accessed without authentication").
    const anonymousRead = ANONYMOUS_READS.has(route.doc) && req.headers["private-token"] === undefined && (this.o.visibility?.[project] ?? "public") === "public";
    const authorised = anonymousRead || (byTriggerToken ? this.o.triggerTokens?.[project] === body.token : req.headers["private-token"] === this.o.token);
    if (!authorised) return send(res, byTriggerToken ? 404 : 401, { message: byTriggerToken ? "404 Not Found" : "401 Unauthorized" });
    if (route.doc !== "get_current_user" && !this.o.projects.includes(project)) return send(res, 404, { message: "404 Project Not Found" });
    // Grape validates attributes after authentication and answers 400 with what it refused.
    if (invalid.length > 0) return send(res, 400, { error: invalid.join(", ") });
    const fault = this.faults.find((f) => f.doc === route.doc && f.times > 0);
    if (fault) {
      fault.times--;
      res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers }).end(JSON.stringify(fault.body));
      return;
    }
    const [status, answer, type] = this.answer(route.doc, project, params);
    if (status < 300 && !type) this.checkAnswer(route, status, answer);
    const lost = this.lost.find((l) => l.doc === route.doc && l.times > 0);
    if (lost && status < 300) {
      lost.times--;
      res.socket?.destroy();
      return;
    }
    if (type) res.writeHead(status, { "content-type": type }).end(String(answer));
    else send(res, status, answer);
  }

  /** The fake's own answers are checked against the doc too: a mistake of the fake is a problem like any other. */
  private checkAnswer(route: DocRoute, status: number, answer: unknown): void {
    if (route.status !== undefined && status !== route.status) this.problems.push(`the fake's answer to ${route.doc}: status ${status}, the doc says ${route.status}`);
    checkAgainstExample(route.example, answer).forEach((p) => this.problems.push(`the fake's ${p.replace(/^answer/, `answer to ${route.doc}`)}`));
  }

  private answer(doc: string, project: string, params: Record<string, any>): [number, unknown, string?] {
    switch (doc) {
      case "get_project":
        return [200, {
          id: this.o.projects.indexOf(project) + 1, description: null, default_branch: "main", visibility: this.o.visibility?.[project] ?? "public",
          name: project.split("/").at(-1), path: project.split("/").at(-1), path_with_namespace: project, web_url: `${this.url}/${project}`,
        }];
      case "create_pipeline":
      case "trigger_pipeline": {
        const variables = doc === "create_pipeline"
          ? ((params.variables as { key: string; value: string }[] | undefined) ?? [])
          : Object.entries((params.variables as Record<string, string> | undefined) ?? {}).map(([key, value]) => ({ key, value }));
        const pipeline: FakePipeline = {
          id: this.nextId++, project, ref: String(params.ref), sha: "384c444e840a515b23f21915ee5766b87068a70d", status: "pending", tag: false,
          variables, jobs: [], source: doc === "trigger_pipeline" ? "trigger" : "api", retried: 0,
        };
        this.pipelines.push(pipeline);
        return [201, this.pipelineJson(pipeline, "created")];
      }
      case "get_pipeline":
      case "retry_pipeline": {
        const pipeline = this.pipeline(project, params.pipeline_id);
        if (!pipeline) return [404, { message: "404 Not found" }];
        if (doc === "retry_pipeline") {
          // "has no effect" when nothing failed or was canceled: the pipeline comes back unchanged
          if (!["failed", "canceled"].includes(pipeline.status)) return [201, this.pipelineJson(pipeline, "created")];
          pipeline.status = "pending";
          pipeline.retried++;
          for (const job of pipeline.jobs) if (job.status === "failed" || job.status === "canceled") job.status = "pending";
        }
        return [doc === "retry_pipeline" ? 201 : 200, this.pipelineJson(pipeline, doc === "retry_pipeline" ? "created" : "full")];
      }
      case "list_project_pipelines": {
        const found = this.pipelines
          .filter((p) => p.project === project && (params.sha === undefined || p.sha === params.sha) && (params.ref === undefined || p.ref === params.ref))
          .sort((a, b) => b.id - a.id);
        return [200, found.map((p) => this.pipelineJson(p, "listed"))];
      }
      case "get_pipeline_variables": {
        const pipeline = this.pipeline(project, params.pipeline_id);
        if (!pipeline) return [404, { message: "404 Not found" }];
        return [200, pipeline.variables.map((v) => ({ key: v.key, variable_type: "env_var", value: v.value }))];
      }
      case "list_pipeline_jobs": {
        const pipeline = this.pipeline(project, params.pipeline_id);
        const scope = ([] as unknown[]).concat(params.scope ?? []);
        const jobs = (pipeline?.jobs ?? []).filter((j) => scope.length === 0 || scope.includes(j.status));
        return [200, jobs.map((j, i) => ({
          id: i + 1, name: j.name, status: j.status, stage: "test", web_url: `${this.url}/${project}/-/jobs/${i + 1}`,
          artifacts_file: j.artifacts ? { filename: j.artifacts, size: 1000 + i } : null,
        }))];
      }
      case "list_repository_tags": {
        // `order_by=updated` (the default) by the order the test set the tags in, newest first unless `sort=asc`; `name` by name.
        const set = Object.entries(this.o.tags?.[project] ?? {});
        const ascending = params.order_by === "name" ? set.sort(([a], [b]) => (a < b ? -1 : 1)) : set;
        const tags = params.sort === "asc" ? ascending : ascending.reverse();
        return [200, tags.map(([name, sha]) => ({ name, message: null, target: sha, commit: { id: sha, short_id: sha.slice(0, 8) }, release: null, protected: false }))];
      }
      case "get_tag": {
        const sha = this.o.tags?.[project]?.[String(params.tag_name)];
        return sha ? [200, { name: params.tag_name, target: sha, message: null, protected: false, commit: { id: sha, short_id: sha.slice(0, 8) } }] : [404, { message: "404 Tag Not Found" }];
      }
      case "get_commit": {
        const head = this.head(project, String(params.sha));
        return head ? [200, { id: head.sha, short_id: head.sha.slice(0, 11), title: "update maps", message: "update maps", parent_ids: [], web_url: `${this.url}/${project}/-/commit/${head.sha}` }] : [404, { message: "404 Commit Not Found" }];
      }
      case "list_repository_tree": {
        const head = this.head(project, String(params.ref ?? "main"));
        if (!head) return [404, { message: "404 Tree Not Found" }];
        const prefix = String(params.path ?? "").replace(/\/+$/, "");
        const files = Object.keys(head.files).filter((p) => prefix === "" || p.startsWith(`${prefix}/`));
        if (params.recursive !== "true" && params.recursive !== true) this.problems.push("list_repository_tree: the fake answers recursive listings only");
        return [200, files.map((p) => ({ id: p, name: p.split("/").at(-1), type: "blob", path: p, mode: "100644" }))];
      }
      case "get_raw_file": {
        const text = this.head(project, String(params.ref ?? "main"))?.files[String(params.file_path)];
        return text === undefined ? [404, { message: "404 File Not Found" }] : [200, text, "text/plain; charset=utf-8"];
      }
      case "set_commit_status":
        return this.setStatus(project, params);
      case "list_commit_statuses": {
        const found = this.statuses.filter((s) =>
          s.project === project && s.sha === params.sha && (params.name === undefined || s.name === params.name) && (params.ref === undefined || s.ref === params.ref));
        return [200, found.map((s) => this.statusJson(s))];
      }
      case "list_commit_merge_requests": {
        const found = this.mergeRequests.filter((m) => m.project === project && m.shas.includes(String(params.sha)));
        return [200, found.map((m) => ({ id: 100 + m.iid, iid: m.iid, project_id: 1, state: m.state, title: `MR !${m.iid}`, sha: m.shas.at(-1) }))];
      }
      case "list_merge_request_notes":
      case "create_merge_request_note":
      case "update_merge_request_note": {
        const mr = this.mergeRequests.find((m) => m.project === project && m.iid === Number(params.merge_request_iid));
        if (!mr) return [404, { message: "404 Not found" }];
        if (doc === "list_merge_request_notes") return [200, mr.notes.map((n) => mrNoteJson(n))];
        if (doc === "create_merge_request_note") {
          const note = { id: this.nextId++, body: String(params.body), updated: 0 };
          mr.notes.push(note);
          return [201, mrNoteJson(note)];
        }
        const note = mr.notes.find((n) => n.id === Number(params.note_id));
        if (!note) return [404, { message: "404 Note Not Found" }];
        Object.assign(note, { body: String(params.body), updated: note.updated + 1 });
        return [200, mrNoteJson(note)];
      }
      case "list_project_hooks":
        return [200, this.hooks.filter((h) => h.project === project).map((h) => this.hookJson(h))];
      case "add_project_hook":
      case "edit_project_hook": {
        const events = Object.fromEntries(Object.keys(HOOK_EVENTS).filter((k) => params[k] !== undefined).map((k) => [k, params[k] === true || params[k] === "true"]));
        if (doc === "add_project_hook") {
          const hook: FakeHook = {
            id: this.nextId++, project, url: String(params.url), token: params.token === undefined ? undefined : String(params.token),
            events: { ...HOOK_EVENTS, ...events }, enable_ssl_verification: params.enable_ssl_verification !== false && params.enable_ssl_verification !== "false",
          };
          this.hooks.push(hook);
          return [201, this.hookJson(hook)];
        }
        const hook = this.hooks.find((h) => h.project === project && h.id === Number(params.hook_id));
        if (!hook) return [404, { message: "404 Not found" }];
        // "When you change the webhook URL, the secret token is reset and not retained."
        if (String(params.url) !== hook.url) hook.token = undefined;
        Object.assign(hook, { url: String(params.url), events: { ...hook.events, ...events } });
        if (params.token !== undefined) hook.token = String(params.token);
        if (params.enable_ssl_verification !== undefined) hook.enable_ssl_verification = params.enable_ssl_verification === true || params.enable_ssl_verification === "true";
        return [200, this.hookJson(hook)];
      }
      case "get_current_user":
        return [200, { id: RELAY_USER.id, username: RELAY_USER.username, name: "OpenCI Relay", state: "active", web_url: `${this.url}/${RELAY_USER.username}` }];
      case "list_commit_discussions":
        return [200, this.threads.filter((t) => t.project === project && t.sha === params.commit_id).map(threadJson)];
      case "create_commit_discussion": {
        const thread: FakeThread = { id: randomBytes(20).toString("hex"), project, sha: String(params.commit_id), notes: [{ id: this.nextId++, body: String(params.body), updated: 0 }] };
        this.threads.push(thread);
        return [201, threadJson(thread)];
      }
      case "update_commit_discussion_note": {
        const note = this.threads.find((t) => t.project === project && t.id === params.discussion_id)?.notes.find((n) => n.id === Number(params.note_id));
        if (!note) return [404, { message: "404 Note Not Found" }];
        Object.assign(note, { body: String(params.body), updated: note.updated + 1 });
        return [200, noteJson(note)];
      }
      default:
        this.problems.push(`the fake GitLab has no answer for ${doc}`);
        return [501, { message: "not faked" }];
    }
  }

  /** GitLab keeps one status per name, ref and commit while it runs; a finished one is followed by a new one. */
  private setStatus(project: string, params: Record<string, any>): [number, unknown] {
    const name = String(params.name ?? params.context ?? "default");
    const state = String(params.state);
    const current = this.statuses.filter((s) => s.project === project && s.sha === params.sha && s.name === name && s.ref === params.ref).at(-1);
    const from = current && !DONE.has(current.status) ? current.status : "created";
    if (!REACHABLE_FROM[state]?.includes(from)) {
      return [400, { message: `Cannot transition status via :${state} from :${from} (Reason(s): Status cannot transition via "${state}")` }];
    }
    const status: FakeCommitStatus = current && !DONE.has(current.status)
      ? current
      : { id: this.nextId++, project, sha: String(params.sha), name, status: state, ref: params.ref, target_url: undefined, description: undefined };
    if (status !== current) this.statuses.push(status);
    Object.assign(status, { status: state, target_url: params.target_url ?? status.target_url, description: params.description ?? status.description });
    (this.statusHistory[`${project}@${status.sha} ${name}`] ??= []).push(state);
    return [201, this.statusJson(status)];
  }

  private head(project: string, ref: string): { sha: string; files: Record<string, string> } | undefined {
    const branches = this.o.contents?.[project] ?? {};
    return branches[ref] ?? Object.values(branches).find((b) => b.sha === ref);
  }

  private pipeline(project: string, id: unknown): FakePipeline | undefined {
    return this.pipelines.find((p) => p.id === Number(id) && p.project === project);
  }

  /**
   * A pipeline as the docs' examples show it: "full" (get), "created" (create and retry: their examples
   * have no `source`), "listed" (list items are short: no `tag`, no timings).
   */
  private pipelineJson(p: FakePipeline, as: "full" | "created" | "listed") {
    const base = {
      id: p.id, iid: p.id - 6999, project_id: 1, sha: p.sha, ref: p.ref, status: p.status,
      web_url: `${this.url}/${p.project}/-/pipelines/${p.id}`, created_at: "2026-11-21T10:00:00Z", updated_at: "2026-11-21T10:05:00Z",
    };
    if (as === "listed") return { ...base, source: p.source };
    const timings = { tag: p.tag, started_at: "2026-11-21T10:00:05Z", finished_at: DONE.has(p.status) ? "2026-11-21T10:05:00Z" : null };
    return as === "full" ? { ...base, source: p.source, ...timings } : { ...base, ...timings };
  }

  private hookJson(h: FakeHook) {
    return {
      id: h.id, url: h.url, name: "", description: "", project_id: this.o.projects.indexOf(h.project) + 1, ...h.events,
      push_events_branch_filter: "", enable_ssl_verification: h.enable_ssl_verification, alert_status: "executable", disabled_until: null,
      url_variables: [], created_at: "2026-11-21T10:00:00Z", custom_headers: [],
    };
  }

  private statusJson(s: FakeCommitStatus) {
    return {
      id: s.id, sha: s.sha, ref: s.ref ?? null, status: s.status, name: s.name, target_url: s.target_url ?? null,
      description: s.description ?? null, created_at: "2026-11-21T10:00:00Z", started_at: null, finished_at: null, allow_failure: false,
      author: { id: 28, username: "openci-relay", name: "OpenCI Relay", state: "active" },
    };
  }
}

/** The token's user, as GET /user names it: the author of every note the relay writes. */
export const RELAY_USER = { id: 28, username: "openci-relay" };

function noteJson(n: FakeNote) {
  return { id: n.id, type: null, body: n.body, author: n.author ?? RELAY_USER, system: false, created_at: "2026-11-21T10:00:00Z", updated_at: "2026-11-21T10:00:00Z" };
}

/** A merge request's note: the docs' examples of MR notes have no `type`. */
function mrNoteJson(n: FakeNote) {
  const { type: _, ...note } = noteJson(n);
  return note;
}

function threadJson(t: FakeThread) {
  return { id: t.id, individual_note: false, notes: t.notes.map(noteJson) };
}

/** JSON, or the form bodies gitbeaker sends for some routes (`variables[KEY]=value` for trigger tokens). */
async function parseBody(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  if (raw.length === 0) return {};
  if (contentType.startsWith("application/json")) return JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
  const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  return groupBrackets([...new Set(form.keys())].map((k) => [k, form.getAll(k).map(String)]));
}

/** `a[]=1&a[]=2` → a: [1, 2]; `variables[K]=v` → variables: { K: v }; single values unwrapped. */
function groupBrackets(entries: [string, string[]][]): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [k, values] of entries) {
    const nested = /^([^[]+)\[([^\]]+)\]$/.exec(k);
    if (nested) (out[nested[1]!] ??= {})[nested[2]!] = values[0];
    else out[k.replace(/\[\]$/, "")] = values.length > 1 || k.endsWith("[]") ? values : values[0];
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
