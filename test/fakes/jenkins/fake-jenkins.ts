import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { applyTree, parseTree, type TreeNode } from "./tree.js";

/**
 * A fake Jenkins on loopback: the remote access API's routes the relay uses (SOURCE.md), under an
 * optional context path (`/jenkins`), with Jenkins' rules where they matter: basic auth with an API
 * token (exempt from CSRF crumbs) or a password (a POST then needs the crumb of its web session),
 * undeclared build parameters dropped, identical queued parameters merged into one queue item, a
 * queue item forgotten after its build started, `tree` honoured. Any other request is a `problem`
 * (a test fails on it) and a 404 or 405. Tests drive the builds: start, finish with a result and
 * test cases, and send the Notification plugin's payloads.
 */

/** `hudson.model.Result`'s five constants, as the API writes them. */
export type JenkinsResult = "SUCCESS" | "UNSTABLE" | "FAILURE" | "NOT_BUILT" | "ABORTED";
/** The Notification plugin's phases (Phase.java, less NONE). */
export type NotificationPhase = "QUEUED" | "STARTED" | "COMPLETED" | "FINALIZED";
/** The JUnit plugin's `CaseResult.Status`. */
export type TestStatus = "PASSED" | "SKIPPED" | "FAILED" | "FIXED" | "REGRESSION";

export interface FakeJenkinsUser {
  user: string;
  /** an API token of the user (Jenkins' are "11" and 32 hex digits) */
  token?: string;
  password?: string;
  /** Job/Build on every job (default true); without it a build request is refused 403 */
  canBuild?: boolean;
}

/** A job's string parameter, and its default where the request gives none. */
export type FakeParameterDefinition = string | { name: string; default: string };

export interface FakeJenkinsOptions {
  /** where Jenkins is served below the host: "" (default) or "/jenkins" */
  contextPath?: string;
  users: FakeJenkinsUser[];
  /** job path (folder/name) → its declared string parameters ([] = not parameterized) */
  jobs?: Record<string, FakeParameterDefinition[]>;
  /** "Jenkins URL" in Manage Jenkins > System: what absolute URLs in answers and payloads start with (default the fake's own) */
  rootUrl?: string;
}

export type JenkinsRoute = "buildWithParameters" | "queueItem" | "queue" | "job" | "build" | "testReport" | "crumbIssuer";

export interface RecordedJenkinsRequest {
  method: string;
  /** the path below the context path */
  path: string;
  route: JenkinsRoute | undefined;
  query: Record<string, string[]>;
  /** a POST's form-encoded body */
  form: Record<string, string[]>;
  headers: IncomingHttpHeaders;
  /** how it authenticated: an API token, a password, nothing, or credentials Jenkins refused */
  auth: "token" | "password" | "anonymous" | "invalid";
  user: string | undefined;
  /** a POST carried the valid crumb of its session */
  crumb: boolean;
  status: number;
  at: number;
}

export interface FakeQueueItem {
  id: number;
  job: string;
  /** the declared parameters' values, as the build gets them */
  parameters: { name: string; value: string }[];
  /** parameters the request sent that the job does not declare: Jenkins drops them */
  dropped: string[];
  inQueueSince: number;
  user: string | undefined;
  cancelled: boolean;
  /** the build's number once started */
  build: number | undefined;
  /** Jenkins no longer answers for it (about 5 minutes after it left the queue) */
  forgotten: boolean;
}

export interface FakeTestCase {
  className: string;
  name: string;
  status: TestStatus;
}

export interface FakeBuild {
  job: string;
  number: number;
  queueId: number;
  parameters: { name: string; value: string }[];
  building: boolean;
  result: JenkinsResult | null;
  timestamp: number;
  duration: number;
  /** the published test report's cases; undefined: the build published none */
  tests: FakeTestCase[] | undefined;
  /** archived artifacts' relative paths */
  artifacts: string[];
}

interface Job {
  path: string;
  parameters: { name: string; default: string }[];
  nextBuildNumber: number;
}

interface Fault {
  route: JenkinsRoute;
  status: number;
  headers: Record<string, string>;
  body: string;
  times: number;
}

/** Parameters buildWithParameters reads besides the job's own: the quiet period, a job's build token, a cause text. */
const TRIGGER_OPTIONS = new Set(["delay", "token", "cause"]);
/** The API's JSON routes take these (the `xpath`, `wrapper`, `exclude` ones are the XML API's). */
const JSON_QUERY = new Set(["tree", "depth", "pretty"]);
const CRUMB_FIELD = "Jenkins-Crumb";
const VERSION = "2.504.3";

export class FakeJenkins {
  readonly requests: RecordedJenkinsRequest[] = [];
  readonly problems: string[] = [];
  readonly queue: FakeQueueItem[] = [];
  readonly builds: FakeBuild[] = [];
  /** every Notification plugin payload sent with `notify`, and the answer */
  readonly notifications: { url: string; payload: unknown; status: number }[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly sessions = new Map<string, string | undefined>();
  private readonly salt = randomBytes(16).toString("hex");
  private readonly cookieName = `JSESSIONID.${randomBytes(4).toString("hex")}`;
  private readonly faults: Fault[] = [];
  private readonly lost: { route: JenkinsRoute; times: number }[] = [];
  private readonly holds: { route: JenkinsRoute; arrived: boolean; dropped: boolean }[] = [];
  private readonly actedHolds: { route: JenkinsRoute; arrived: boolean; dropped: boolean }[] = [];
  private readonly server: Server;
  private nextQueueId = 41;
  private readonly contextPath: string;

  private constructor(private readonly o: FakeJenkinsOptions) {
    this.contextPath = (o.contextPath ?? "").replace(/\/+$/, "");
    if (this.contextPath !== "" && !this.contextPath.startsWith("/")) throw new Error(`contextPath must start with '/': ${o.contextPath}`);
    for (const [path, parameters] of Object.entries(o.jobs ?? {})) this.declareJob(path, parameters);
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(o: FakeJenkinsOptions): Promise<FakeJenkins> {
    const fake = new FakeJenkins(o);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    return fake;
  }

  /** The base URL a client is configured with: origin and context path, no trailing slash. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.contextPath}`;
  }

  /** Jenkins' own idea of its URL (absolute URLs in answers): `rootUrl`, else `url`. */
  get rootUrl(): string {
    return (this.o.rootUrl ?? this.url).replace(/\/+$/, "");
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /* ----- controls ----------------------------------------------------------------------------- */

  /** Creates (or redefines) a job with these string parameters; [] makes it a job without parameters. */
  declareJob(path: string, parameters: FakeParameterDefinition[]): void {
    const existing = this.jobs.get(path);
    this.jobs.set(path, {
      path, nextBuildNumber: existing?.nextBuildNumber ?? 1,
      parameters: parameters.map((p) => (typeof p === "string" ? { name: p, default: "" } : p)),
    });
  }

  calls(route: JenkinsRoute): RecordedJenkinsRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  item(queueId: number): FakeQueueItem {
    const item = this.queue.find((q) => q.id === queueId);
    if (!item) throw new Error(`no queue item ${queueId}`);
    return item;
  }

  build(queueId: number): FakeBuild {
    const build = this.builds.find((b) => b.queueId === queueId);
    if (!build) throw new Error(`queue item ${queueId} has no build`);
    return build;
  }

  /** An executor takes the queued item: its build starts (building, no result), the item leaves the queue. */
  startBuild(queueId: number, at: number = Date.now()): FakeBuild {
    const item = this.item(queueId);
    if (item.build !== undefined || item.cancelled) throw new Error(`queue item ${queueId} is not waiting`);
    const job = this.jobs.get(item.job)!;
    const build: FakeBuild = {
      job: item.job, number: job.nextBuildNumber++, queueId, parameters: item.parameters, building: true, result: null,
      timestamp: at, duration: 0, tests: undefined, artifacts: [],
    };
    item.build = build.number;
    this.builds.push(build);
    return build;
  }

  /** The build ends with `result`; `tests` becomes its test report (none: no report published), `artifacts` what it archived. */
  finishBuild(queueId: number, result: JenkinsResult, o: { tests?: FakeTestCase[]; artifacts?: string[]; duration?: number } = {}): FakeBuild {
    const build = this.build(queueId);
    if (!build.building) throw new Error(`build ${build.number} of ${build.job} has already finished`);
    Object.assign(build, { building: false, result, duration: o.duration ?? 61_000, tests: o.tests, artifacts: o.artifacts ?? [] });
    return build;
  }

  /** A queued item is cancelled before it starts (Queue.cancel): it leaves the queue without a build. */
  cancelQueueItem(queueId: number): void {
    const item = this.item(queueId);
    if (item.build !== undefined) throw new Error(`queue item ${queueId} has started`);
    item.cancelled = true;
  }

  /** Jenkins forgets a queue item that left the queue (after about 5 minutes): its API answers 404 from now on. */
  forgetQueueItem(queueId: number): void {
    const item = this.item(queueId);
    if (item.build === undefined && !item.cancelled) throw new Error(`queue item ${queueId} is still in the queue: Jenkins forgets only items that left it`);
    item.forgotten = true;
  }

  /** The next `times` requests of `route` answer `status` (with `headers`, e.g. Retry-After) instead. */
  fail(route: JenkinsRoute, status: number, o: { headers?: Record<string, string>; body?: string; times?: number } = {}): void {
    this.faults.push({ route, status, headers: o.headers ?? {}, body: o.body ?? `failing on purpose (${status})`, times: o.times ?? 1 });
  }

  /** The next `times` requests of `route` are acted on (an item queued), then their connection is cut before any answer. */
  loseResponse(route: JenkinsRoute, times = 1): void {
    this.lost.push({ route, times });
  }

  /**
   * The next request of `route` is held unanswered and unprocessed, as if Jenkins had not got to it:
   * when its client goes away (a killed worker), nothing is queued. `held` tells when it arrived.
   */
  hold(route: JenkinsRoute): { held: () => boolean; dropped: () => boolean } {
    const h = { route, arrived: false, dropped: false };
    this.holds.push(h);
    return { held: () => h.arrived, dropped: () => h.dropped };
  }

  /**
   * The next request of `route` is acted on (a build queued), then its answer is held until its
   * client goes away: Jenkins did the work and the client (a worker the test kills) never heard.
   * `held` tells when it was acted on.
   */
  actThenHold(route: JenkinsRoute): { held: () => boolean; dropped: () => boolean } {
    const h = { route, arrived: false, dropped: false };
    this.actedHolds.push(h);
    return { held: () => h.arrived, dropped: () => h.dropped };
  }

  /**
   * The Notification plugin's JSON for the build of a queue item at `phase` (JobState and BuildState
   * serialised by Gson with lower-case underscored names; null fields left out). The plugin sends
   * QUEUED and STARTED together when the build starts, so each phase needs a started build.
   */
  notificationPayload(queueId: number, phase: NotificationPhase, o: { log?: string; notes?: string } = {}): Record<string, unknown> {
    const build = this.build(queueId);
    const item = this.item(queueId);
    if ((phase === "COMPLETED" || phase === "FINALIZED") && build.building) throw new Error(`build ${build.number} has not finished: no ${phase} notification yet`);
    const jobUrl = jobUrlOf(build.job);
    const name = build.job.split("/").at(-1)!;
    const timestamp = phase === "QUEUED" ? item.inQueueSince : phase === "STARTED" ? build.timestamp : phase === "COMPLETED" ? build.timestamp + build.duration : Date.now();
    const tests = build.tests;
    const failed = tests?.filter((t) => t.status === "FAILED" || t.status === "REGRESSION") ?? [];
    const skipped = tests?.filter((t) => t.status === "SKIPPED") ?? [];
    return {
      name, display_name: name, url: jobUrl,
      build: {
        full_url: `${this.rootUrl}/${jobUrl}${build.number}/`, number: build.number, queue_id: build.queueId, timestamp,
        duration: build.building ? 0 : build.duration, phase,
        ...(build.building ? {} : { status: build.result }),
        url: `${jobUrl}${build.number}/`, display_name: `#${build.number}`,
        scm: { changes: [], culprits: [] },
        parameters: Object.fromEntries(build.parameters.map((p) => [p.name, p.value])),
        log: o.log ?? "",
        ...(o.notes !== undefined ? { notes: o.notes } : {}),
        ...(tests && !build.building ? {
          test_summary: {
            total: tests.length, failed: failed.length, passed: tests.length - failed.length - skipped.length, skipped: skipped.length,
            failed_tests: failed.map((t) => `${t.className}.${t.name}`),
          },
        } : {}),
        artifacts: build.building ? {} : Object.fromEntries(build.artifacts.map((a) => [a, { archive: `${this.rootUrl}/${jobUrl}${build.number}/artifact/${a}` }])),
      },
    };
  }

  /** POSTs the payload to `url` as the plugin's HTTP protocol does (application/json;charset=UTF-8); resolves with the answer. */
  async notify(url: string, queueId: number, phase: NotificationPhase, o: { log?: string; notes?: string } = {}): Promise<{ status: number; body: string }> {
    const payload = this.notificationPayload(queueId, phase, o);
    const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json;charset=UTF-8" }, body: JSON.stringify(payload) });
    const body = await res.text();
    this.notifications.push({ url, payload, status: res.status });
    return { status: res.status, body };
  }

  /* ----- the server ------------------------------------------------------------------------------ */

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const raw = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
    });
    const method = req.method ?? "GET";
    const path = url.pathname.startsWith(`${this.contextPath}/`) ? url.pathname.slice(this.contextPath.length) : undefined;
    const query = multi(url.searchParams);
    const contentType = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const form = method === "POST" && contentType === "application/x-www-form-urlencoded" ? multi(new URLSearchParams(raw.toString("utf8"))) : {};
    const auth = this.authenticate(req);
    const seen: RecordedJenkinsRequest = {
      method, path: path ?? url.pathname, route: undefined, query, form, headers: req.headers, auth: auth.kind, user: auth.user, crumb: false, status: 0, at: Date.now(),
    };
    this.requests.push(seen);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.status = status;
      const json = typeof body !== "string";
      const text = json ? JSON.stringify(body) : body;
      res.writeHead(status, {
        // Api.setHeaders: the remote API's answers say which Jenkins wrote them
        ...(json ? { "X-Jenkins": VERSION, "X-Content-Type-Options": "nosniff" } : {}),
        "content-type": json ? "application/json;charset=utf-8" : "text/html;charset=utf-8",
        "content-length": String(Buffer.byteLength(text)), ...headers,
      }).end(text);
    };
    const notFound = () => send(404, "<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>");

    const match = path === undefined ? undefined : routeOf(path);
    if (!match) {
      this.problems.push(`${method} ${url.pathname}: not a route of the fake Jenkins${path === undefined ? ` (outside the context path ${this.contextPath})` : ""}`);
      return notFound();
    }
    seen.route = match.route;
    const expected = match.route === "buildWithParameters" ? "POST" : "GET";
    if (method !== expected) {
      this.problems.push(`${method} ${url.pathname}: ${match.route} takes ${expected}`);
      return send(405, "<html><body>This URL requires POST</body></html>");
    }
    if (method === "POST" && raw.length > 0 && contentType !== "application/x-www-form-urlencoded") {
      this.problems.push(`${method} ${url.pathname}: a body of type '${contentType}'; buildWithParameters reads form fields (application/x-www-form-urlencoded) and query parameters`);
    }
    let tree: TreeNode[] | undefined;
    if (expected === "GET") {
      for (const key of Object.keys(query)) if (!JSON_QUERY.has(key)) this.problems.push(`${method} ${url.pathname}: '${key}' is not a query parameter of the JSON API (tree, depth, pretty)`);
      if (query.tree) {
        try {
          tree = parseTree(query.tree[0]!);
        } catch (e) {
          this.problems.push(`${method} ${url.pathname}: ${(e as Error).message}`);
          return send(400, `<html><body>${(e as Error).message}</body></html>`);
        }
      }
    }

    // Jenkins' filters in their order: authentication (basic), then the crumb of a POST, then permissions.
    if (auth.kind === "invalid") return send(401, `<html><body>Invalid password/token for user: ${auth.user ?? ""}</body></html>`, { "WWW-Authenticate": 'Basic realm="Jenkins"' });
    const session = this.sessionOf(req);
    if (method === "POST") {
      const crumb = String(req.headers[CRUMB_FIELD.toLowerCase()] ?? form[CRUMB_FIELD]?.[0] ?? "");
      seen.crumb = session !== undefined && crumb !== "" && crumb === this.crumbOf(auth.user, session);
      if (auth.kind !== "token" && !seen.crumb) return send(403, "<html><body>No valid crumb was included in the request</body></html>");
    }
    if (auth.kind === "anonymous") {
      return send(403, "<html><body>Authentication required</body></html>", { "X-You-Are-Authenticated-As": "anonymous" });
    }

    const hold = this.holds.find((h) => h.route === match.route && !h.arrived);
    if (hold) {
      hold.arrived = true;
      await new Promise<void>((resolve) => res.once("close", () => resolve()));
      hold.dropped = true;
      return;
    }
    const fault = this.faults.find((f) => f.route === match.route && f.times > 0);
    if (fault) {
      fault.times--;
      return send(fault.status, fault.body, fault.headers);
    }

    const answer = this.answer(match, { query, form, tree, user: auth.user!, session, fresh: () => this.newSession(auth.user) });
    const actedHold = this.actedHolds.find((h) => h.route === match.route && !h.arrived);
    if (actedHold && answer.status < 400) {
      actedHold.arrived = true;
      seen.status = -1;
      if (!res.closed) await new Promise<void>((resolve) => res.once("close", () => resolve()));
      actedHold.dropped = true;
      return;
    }
    const lost = this.lost.find((l) => l.route === match.route && l.times > 0);
    if (lost && answer.status < 400) {
      lost.times--;
      seen.status = -1;
      res.socket?.destroy();
      return;
    }
    if (answer.status === 404) return notFound();
    send(answer.status, answer.body, answer.headers);
  }

  private answer(
    m: RouteMatch,
    r: { query: Record<string, string[]>; form: Record<string, string[]>; tree: TreeNode[] | undefined; user: string; session: string | undefined; fresh: () => string },
  ): { status: number; body: unknown; headers?: Record<string, string> } {
    const cut = (model: unknown) => (r.tree ? applyTree(model as never, r.tree) : model);
    switch (m.route) {
      case "crumbIssuer": {
        const headers: Record<string, string> = {};
        let session = r.session;
        if (session === undefined) {
          session = r.fresh();
          headers["Set-Cookie"] = `${this.cookieName}=${session}; Path=${this.contextPath || "/"}; HttpOnly`;
        }
        return { status: 200, body: cut({ _class: "hudson.security.csrf.DefaultCrumbIssuer", crumb: this.crumbOf(r.user, session), crumbRequestField: CRUMB_FIELD }), headers };
      }
      case "buildWithParameters": {
        const job = this.jobs.get(m.job!);
        if (!job) return { status: 404, body: "" };
        if (this.o.users.find((u) => u.user === r.user)?.canBuild === false) {
          return { status: 403, body: `<html><body>${r.user} is missing the Job/Build permission</body></html>` };
        }
        if (job.parameters.length === 0) return { status: 400, body: `<html><body>${job.path} is not parameterized</body></html>` };
        const sent = { ...r.query, ...r.form };
        const value = (name: string) => r.query[name]?.[0] ?? r.form[name]?.[0];
        const parameters = job.parameters.map((d) => ({ name: d.name, value: value(d.name) ?? d.default }));
        const dropped = Object.keys(sent).filter((k) => !TRIGGER_OPTIONS.has(k) && k !== CRUMB_FIELD && !job.parameters.some((d) => d.name === k));
        // Queue.schedule2: an item of the same job still waiting with the same parameters takes this request (ScheduleResult.Existing: 303).
        const same = this.queue.find((q) => q.job === job.path && q.build === undefined && !q.cancelled && sameParameters(q.parameters, parameters));
        if (same) return { status: 303, body: "", headers: { Location: `${this.rootUrl}/queue/item/${same.id}/` } };
        const item: FakeQueueItem = {
          id: this.nextQueueId++, job: job.path, parameters, dropped, inQueueSince: Date.now(), user: r.user, cancelled: false, build: undefined, forgotten: false,
        };
        this.queue.push(item);
        return { status: 201, body: "", headers: { Location: `${this.rootUrl}/queue/item/${item.id}/` } };
      }
      case "queueItem": {
        const item = this.queue.find((q) => q.id === m.id && !q.forgotten);
        if (!item) return { status: 404, body: "" };
        return { status: 200, body: cut(this.itemJson(item)) };
      }
      case "queue": {
        const waiting = this.queue.filter((q) => q.build === undefined && !q.cancelled && !q.forgotten);
        return { status: 200, body: cut({ _class: "hudson.model.Queue", discoverableItems: [], items: waiting.map((q) => this.itemJson(q)) }) };
      }
      case "job": {
        const job = this.jobs.get(m.job!);
        if (!job) return { status: 404, body: "" };
        const model = this.jobJson(job);
        if (r.tree) return { status: 200, body: applyTree(model as never, r.tree) };
        // depth 0: the builds (and the last one) only as references
        const ref = (b: { _class: string; number: number; url: string } | null) => (b === null ? null : { _class: b._class, number: b.number, url: b.url });
        return { status: 200, body: { ...model, builds: model.builds.map(ref), lastBuild: ref(model.lastBuild) } };
      }
      case "build": {
        const build = this.builds.find((b) => b.job === m.job && b.number === m.number);
        if (!build) return { status: 404, body: "" };
        return { status: 200, body: cut(this.buildJson(build)) };
      }
      case "testReport": {
        const build = this.builds.find((b) => b.job === m.job && b.number === m.number);
        if (!build?.tests) return { status: 404, body: "" };
        return { status: 200, body: cut(testReportJson(build.tests)) };
      }
    }
  }

  /* ----- authentication ------------------------------------------------------------------------- */

  private authenticate(req: IncomingMessage): { kind: RecordedJenkinsRequest["auth"]; user: string | undefined } {
    const header = req.headers.authorization;
    if (!header) return { kind: "anonymous", user: undefined };
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) return { kind: "invalid", user: undefined };
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const account = this.o.users.find((u) => u.user === user);
    // BasicHeaderProcessor tries the secret as an API token first, then as the password.
    if (colon > 0 && account?.token !== undefined && secret === account.token) return { kind: "token", user };
    if (colon > 0 && account?.password !== undefined && secret === account.password) return { kind: "password", user };
    return { kind: "invalid", user: colon > 0 ? user : undefined };
  }

  private sessionOf(req: IncomingMessage): string | undefined {
    const cookies = String(req.headers.cookie ?? "").split(/;\s*/).map((c) => c.split("=") as [string, string?]);
    const sid = cookies.find(([name]) => name === this.cookieName)?.[1];
    return sid !== undefined && this.sessions.has(sid) ? sid : undefined;
  }

  private newSession(user: string | undefined): string {
    const sid = randomBytes(12).toString("hex");
    this.sessions.set(sid, user);
    return sid;
  }

  /** DefaultCrumbIssuer: a hash of the user name, the web session and the instance's salt. */
  private crumbOf(user: string | undefined, session: string): string {
    return createHash("sha256").update(`${user ?? "anonymous"}:${session}:${this.salt}`).digest("hex");
  }

  /* ----- models (what Jenkins exports; `tree` cuts them) ----------------------------------------- */

  private itemJson(item: FakeQueueItem): Record<string, unknown> {
    const left = item.build !== undefined || item.cancelled;
    const build = item.build === undefined ? undefined : this.builds.find((b) => b.job === item.job && b.number === item.build)!;
    return {
      _class: left ? "hudson.model.Queue$LeftItem" : "hudson.model.Queue$WaitingItem",
      actions: actionsJson(item.parameters, item.user),
      blocked: false, buildable: false, id: item.id, inQueueSince: item.inQueueSince,
      params: item.parameters.map((p) => `\n${p.name}=${p.value}`).join(""),
      stuck: false,
      task: { _class: "hudson.model.FreeStyleProject", name: item.job.split("/").at(-1), url: `${this.rootUrl}/${jobUrlOf(item.job)}`, color: "blue" },
      url: `queue/item/${item.id}/`,
      why: left ? null : "In the quiet period. Expires in 4.9 sec",
      ...(left
        ? { cancelled: item.cancelled, executable: build ? { _class: "hudson.model.FreeStyleBuild", number: build.number, url: this.buildUrl(build) } : null }
        : { timestamp: item.inQueueSince + 5000 }),
    };
  }

  private jobJson(job: Job) {
    const builds = this.builds.filter((b) => b.job === job.path).sort((a, b) => b.number - a.number).slice(0, 100).map((b) => this.buildJson(b));
    const name = job.path.split("/").at(-1)!;
    const queued = this.queue.find((q) => q.job === job.path && q.build === undefined && !q.cancelled);
    return {
      _class: "hudson.model.FreeStyleProject",
      actions: [{}, { _class: "hudson.model.ParametersDefinitionProperty" }],
      description: "", displayName: name, fullDisplayName: job.path.split("/").join(" » "), fullName: job.path, name,
      url: `${this.rootUrl}/${jobUrlOf(job.path)}`, buildable: true, builds, color: "blue",
      inQueue: queued !== undefined, keepDependencies: false, lastBuild: builds[0] ?? null, nextBuildNumber: job.nextBuildNumber,
      property: job.parameters.length === 0 ? [] : [{
        _class: "hudson.model.ParametersDefinitionProperty",
        parameterDefinitions: job.parameters.map((p) => ({
          _class: "hudson.model.StringParameterDefinition",
          defaultParameterValue: { _class: "hudson.model.StringParameterValue", name: p.name, value: p.default },
          description: "", name: p.name, type: "StringParameterDefinition",
        })),
      }],
      queueItem: queued ? this.itemJson(queued) : null,
    };
  }

  private buildJson(b: FakeBuild) {
    return {
      _class: "hudson.model.FreeStyleBuild",
      actions: actionsJson(b.parameters, this.queue.find((q) => q.id === b.queueId)?.user),
      artifacts: b.artifacts.map((a) => ({ displayPath: a.split("/").at(-1)!, fileName: a.split("/").at(-1)!, relativePath: a })),
      building: b.building, description: null, displayName: `#${b.number}`, duration: b.duration, estimatedDuration: 61_000, executor: null,
      fullDisplayName: `${b.job.split("/").join(" » ")} #${b.number}`, id: String(b.number), keepLog: false, number: b.number, queueId: b.queueId,
      result: b.result, timestamp: b.timestamp, url: this.buildUrl(b), builtOn: "", changeSet: { _class: "hudson.scm.EmptyChangeLogSet", items: [], kind: null }, culprits: [],
    };
  }

  private buildUrl(b: FakeBuild): string {
    return `${this.rootUrl}/${jobUrlOf(b.job)}${b.number}/`;
  }
}

interface RouteMatch {
  route: JenkinsRoute;
  job?: string;
  number?: number;
  id?: number;
}

/** The routes, below the context path; a job's path is /job/<a>/job/<b> for folder a's job b. */
function routeOf(path: string): RouteMatch | undefined {
  if (path === "/crumbIssuer/api/json") return { route: "crumbIssuer" };
  if (path === "/queue/api/json") return { route: "queue" };
  const item = /^\/queue\/item\/(\d+)\/api\/json$/.exec(path);
  if (item) return { route: "queueItem", id: Number(item[1]) };
  const m = /^((?:\/job\/[^/]+)+)\/(?:(buildWithParameters)|api\/json|(\d+)\/api\/json|(\d+)\/testReport\/api\/json)$/.exec(path);
  if (!m) return undefined;
  let job: string;
  try {
    job = m[1]!.split("/job/").slice(1).map((s) => decodeURIComponent(s)).join("/");
  } catch {
    return undefined;
  }
  if (m[2]) return { route: "buildWithParameters", job };
  if (m[3]) return { route: "build", job, number: Number(m[3]) };
  if (m[4]) return { route: "testReport", job, number: Number(m[4]) };
  return { route: "job", job };
}

/** job/<a>/job/<b>/, as Jenkins' Item.getUrl() writes it (Util.rawEncode of each name). */
export function jobUrlOf(path: string): string {
  return `${path.split("/").map((s) => `job/${encodeURIComponent(s)}/`).join("")}`;
}

function multi(params: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of params) (out[k] ??= []).push(v);
  return out;
}

function sameParameters(a: { name: string; value: string }[], b: { name: string; value: string }[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.value === b[i]!.value);
}

function actionsJson(parameters: { name: string; value: string }[], user: string | undefined) {
  return [
    { _class: "hudson.model.ParametersAction", parameters: parameters.map((p) => ({ _class: "hudson.model.StringParameterValue", name: p.name, value: p.value })) },
    { _class: "hudson.model.CauseAction", causes: [{ _class: "hudson.model.Cause$UserIdCause", shortDescription: `Started by user ${user ?? "anonymous"}`, userId: user ?? null, userName: user ?? "anonymous" }] },
  ];
}

/** The JUnit plugin's TestResult: suites by class name, each with its cases. */
function testReportJson(tests: FakeTestCase[]) {
  const failing = (s: TestStatus) => s === "FAILED" || s === "REGRESSION";
  const classes = [...new Set(tests.map((t) => t.className))];
  return {
    _class: "hudson.tasks.junit.TestResult", testActions: [], duration: 1.5, empty: false,
    failCount: tests.filter((t) => failing(t.status)).length, passCount: tests.filter((t) => t.status === "PASSED" || t.status === "FIXED").length,
    skipCount: tests.filter((t) => t.status === "SKIPPED").length,
    suites: classes.map((c) => ({
      cases: tests.filter((t) => t.className === c).map((t) => ({
        testActions: [], age: failing(t.status) ? 1 : 0, className: t.className, duration: 0.1,
        errorDetails: failing(t.status) ? "expected true, got false" : null, errorStackTrace: failing(t.status) ? "AssertionError" : null,
        failedSince: failing(t.status) ? 1 : 0, name: t.name, skipped: t.status === "SKIPPED", skippedMessage: null, status: t.status, stderr: null, stdout: null,
      })),
      duration: 0.1 * tests.filter((t) => t.className === c).length, enclosingBlockNames: [], enclosingBlocks: [], id: null, name: c, nodeId: null, stderr: null, stdout: null, timestamp: null,
    })),
  };
}
