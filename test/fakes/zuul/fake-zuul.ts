import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SeenRequest } from "../../helpers/loopback-server.js";

/**
 * A fake zuul-web: the read-only REST API's buildsets list only (`GET /api/tenant/{tenant}/buildsets`,
 * SOURCE.md), its query parameters those of Zuul's handler, its answer shaped as Zuul's
 * BuildsetConverter builds it (Zuul ≥ 10: `refs: [...]`; `format: "flat"`, Zuul 3.6–9: the ref's fields at
 * the top). Buildsets are listed newest first (by `_id`), filtered as Zuul's SQL does. Anything else —
 * another route or method, a query parameter the handler does not take, a non-integer `limit` — is a
 * `problem` the test fails on and a 404 (CherryPy's answer to an unexpected parameter) or 400.
 */

/** The buildset list's query parameters: the arguments of zuul/web/__init__.py `buildsets()`. */
const PARAMETERS = new Set([
  "project", "pipeline", "change", "branch", "patchset", "ref", "newrev", "uuid", "result", "complete",
  "limit", "skip", "idx_min", "idx_max", "exclude_result",
]);

export interface FakeZuulOptions {
  /** a path the API is served below (Zuul behind a reverse proxy's sub-URL, e.g. `/zuul`) */
  prefix?: string;
  /** a white-labeled tenant: the API at `{prefix}/api/buildsets` (installation.rst's rewrite), and no `/api/tenant/…` */
  whitelabel?: string;
  /** Zuul ≥ 10 (`refs`, the default) or 3.6–9 (`flat`: project, ref, newrev… at the top of each buildset) */
  format?: "refs" | "flat";
}

export interface AddBuildset {
  project: string;
  /** the full ref, as Zuul stores a Gerrit tag: `refs/tags/1.0.0` */
  ref: string;
  pipeline: string;
  /** the tenant (default: the first one, "openstack") */
  tenant?: string;
  /** null (the default): still running */
  result?: string | null;
  newrev?: string;
}

export interface FakeBuildset {
  id: number;
  uuid: string;
  tenant: string;
  pipeline: string;
  project: string;
  ref: string;
  oldrev: string;
  newrev: string;
  result: string | null;
  eventTimestamp: Date;
  firstBuildStart: Date | null;
  lastBuildEnd: Date | null;
}

type Query = Map<string, string[]>;

export class FakeZuul {
  readonly requests: SeenRequest[] = [];
  readonly problems: string[] = [];
  readonly buildsets: FakeBuildset[] = [];
  private readonly tenants = new Map<string, { state: "loaded" | "not_loaded"; protected: boolean }>([["openstack", { state: "loaded", protected: false }]]);
  private faults: { status: number; times: number; headers: Record<string, string> }[] = [];
  private nextId = 41_200;
  private clock = Date.parse("2026-11-20T10:00:00Z");

  private constructor(
    private readonly server: Server,
    readonly base: string,
    private readonly opts: FakeZuulOptions,
  ) {}

  static async start(opts: FakeZuulOptions = {}): Promise<FakeZuul> {
    let fake: FakeZuul | undefined;
    const server = createServer((req, res) => fake!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const prefix = (opts.prefix ?? "").replace(/\/+$/, "");
    fake = new FakeZuul(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`, { ...opts, prefix });
    if (opts.whitelabel !== undefined && !fake.tenants.has(opts.whitelabel)) fake.addTenant(opts.whitelabel);
    return fake;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A tenant of the installation; `not_loaded`: configured but not loaded yet (Zuul answers 422). */
  addTenant(name: string, state: "loaded" | "not_loaded" = "loaded"): void {
    this.tenants.set(name, { state, protected: false });
  }

  /** The tenant has access rules (`api-root`/tenant `access-rules`): reading it needs a bearer token (401 without). */
  protect(tenant: string): void {
    const t = this.tenants.get(tenant);
    if (!t) throw new Error(`no tenant ${tenant}`);
    t.protected = true;
  }

  /** A buildset enqueued now (newer than every one before); running unless `result` is given. */
  addBuildset(b: AddBuildset): FakeBuildset {
    const tenant = b.tenant ?? "openstack";
    if (!this.tenants.has(tenant)) throw new Error(`no tenant ${tenant}: addTenant first`);
    if (!b.ref.startsWith("refs/")) throw new Error(`Zuul stores full refs (refs/tags/…), not ${b.ref}`);
    this.clock += 60_000;
    const buildset: FakeBuildset = {
      id: this.nextId++,
      uuid: randomBytes(16).toString("hex"),
      tenant,
      pipeline: b.pipeline,
      project: b.project,
      ref: b.ref,
      oldrev: "0000000000000000000000000000000000000000",
      newrev: b.newrev ?? randomBytes(20).toString("hex"),
      result: null,
      eventTimestamp: new Date(this.clock - 30_000),
      firstBuildStart: new Date(this.clock),
      lastBuildEnd: null,
    };
    this.buildsets.push(buildset);
    if (b.result != null) this.finish(buildset.uuid, b.result);
    return buildset;
  }

  /** The buildset's result as Zuul reports it at its end (SUCCESS, FAILURE, MERGE_CONFLICT, DEQUEUED…). */
  finish(uuid: string, result: string): void {
    const b = this.buildsets.find((x) => x.uuid === uuid);
    if (!b) throw new Error(`no buildset ${uuid}`);
    this.clock += 60_000;
    b.result = result;
    b.lastBuildEnd = new Date(this.clock);
  }

  /** The next `times` answers are `status` (with `headers`): a proxy or zuul-web failing. */
  fail(status: number, times = 1, headers: Record<string, string> = {}): void {
    this.faults.push({ status, times, headers });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const seen: SeenRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search.slice(1), headers: req.headers, status: 0 };
    this.requests.push(seen);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.status = status;
      const html = typeof body === "string";
      const text = html ? body : JSON.stringify(body);
      res.writeHead(status, { "content-type": html ? "text/html;charset=utf-8" : "application/json; charset=utf-8", "content-length": String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    const fault = this.faults.find((f) => f.times > 0);
    if (fault) {
      fault.times--;
      return send(fault.status, cherryPyError(fault.status, "failing on purpose"), fault.headers);
    }
    const what = `zuul: ${req.method} ${url.pathname}${url.search}`;
    let tenantName: string | undefined;
    const api = `${this.opts.prefix}/api/`;
    const path = url.pathname.startsWith(api) ? url.pathname.slice(api.length) : undefined;
    if (path !== undefined && this.opts.whitelabel !== undefined) {
      if (path === "buildsets") tenantName = this.opts.whitelabel;
    } else if (path !== undefined) {
      const m = /^tenant\/([^/]+)\/buildsets$/.exec(path);
      if (m) tenantName = decodeURIComponent(m[1]!);
    }
    if (tenantName === undefined || req.method !== "GET") {
      this.problems.push(`${what} is not a route of the fake (GET ${this.opts.prefix}/api/${this.opts.whitelabel !== undefined ? "" : "tenant/{tenant}/"}buildsets)`);
      return send(404, cherryPyError(404, "The path '" + url.pathname + "' was not found."));
    }
    // Zuul's order: the tenant (check_tenant_auth, on_start_resource), then the handler's arguments (CherryPy
    // refuses unexpected ones with a 404), then the database (a non-integer limit fails there). Every
    // parameter problem is recorded whatever is answered.
    const query: Query = new Map();
    for (const [k, v] of url.searchParams) query.set(k, [...(query.get(k) ?? []), v]);
    const unexpected = [...query.keys()].filter((k) => !PARAMETERS.has(k));
    if (unexpected.length > 0) this.problems.push(`${what}: ${unexpected.join(", ")} is not a parameter of Zuul's buildsets list`);
    const int = (name: string, fallback: number): number | undefined => {
      const v = query.get(name);
      if (v === undefined) return fallback;
      if (v.length !== 1 || !/^\d+$/.test(v[0]!)) {
        this.problems.push(`${what}: ${name} must be one non-negative integer, got ${JSON.stringify(v)}`);
        return undefined;
      }
      return Number(v[0]);
    };
    const limit = int("limit", 50);
    const skip = int("skip", 0);
    const idxMin = int("idx_min", 0);
    const idxMax = int("idx_max", Number.MAX_SAFE_INTEGER);

    const tenant = this.tenants.get(tenantName);
    if (!tenant) return send(404, cherryPyError(404, "Unknown tenant"));
    if (tenant.state === "not_loaded") return send(422, cherryPyError(422, `Tenant ${tenantName} isn't ready`));
    if (tenant.protected && !/^bearer /i.test(req.headers.authorization ?? "")) {
      const error = { description: 'Missing "Authorization" header', error: "MissingAuthError", realm: "zuul.example.org" };
      // Zuul folds this header over lines; Node sends header values on one line
      return send(401, error, { "www-authenticate": 'Bearer realm="zuul.example.org" error="MissingAuthError" error_description="Missing \\"Authorization\\" header"' });
    }
    if (unexpected.length > 0) return send(404, cherryPyError(404, `Unexpected query string parameters: ${unexpected.join(", ")}`));
    if (limit === undefined || skip === undefined || idxMin === undefined || idxMax === undefined) return send(400, cherryPyError(400, "limit, skip, idx_min and idx_max must be integers"));
    const found = this.buildsets
      .filter((b) => b.tenant === tenantName && matches(b, query) && b.id >= idxMin && b.id <= idxMax)
      .sort((a, b) => b.id - a.id)
      .slice(skip, skip + limit);
    send(200, found.map((b) => this.toDict(b)));
  }

  /** zuul/web/__init__.py BuildsetConverter.toDict (refs: RefConverter.toDict), or the 3.6–9 buildsetToDict. */
  private toDict(b: FakeBuildset): Record<string, unknown> {
    const ref = {
      project: b.project, branch: "", change: null, patchset: null, ref: b.ref, oldrev: b.oldrev, newrev: b.newrev,
      ref_url: `https://opendev.org/${b.project}/commit/${b.newrev}`,
    };
    const common = {
      _id: b.id, uuid: b.uuid, result: b.result,
      message: b.result === null ? null : `Build ${b.result === "SUCCESS" ? "succeeded" : "failed"} (${b.pipeline} pipeline).`,
      pipeline: b.pipeline, event_id: `${b.uuid.slice(0, 8)}e0e0e0e0`,
      event_timestamp: zuulTime(b.eventTimestamp), first_build_start_time: zuulTime(b.firstBuildStart), last_build_end_time: zuulTime(b.lastBuildEnd),
    };
    if (this.opts.format === "flat") {
      return {
        _id: common._id, uuid: common.uuid, result: common.result, message: common.message,
        project: ref.project, branch: ref.branch, pipeline: common.pipeline, change: ref.change, patchset: ref.patchset,
        ref: ref.ref, oldrev: ref.oldrev, newrev: ref.newrev, ref_url: ref.ref_url,
        event_id: common.event_id, event_timestamp: common.event_timestamp,
        first_build_start_time: common.first_build_start_time, last_build_end_time: common.last_build_end_time,
      };
    }
    return { ...common, refs: [ref] };
  }
}

/** Zuul's `_datetimeToString`: `%Y-%m-%dT%H:%M:%S`, UTC without a zone. */
function zuulTime(d: Date | null): string | null {
  return d === null ? null : d.toISOString().slice(0, 19);
}

/** sqlconnection.py getBuildsets: fuzzy (`*` wildcards) on pipeline, project, branch; exact on the rest; a repeated parameter is any of its values. */
function matches(b: FakeBuildset, q: Query): boolean {
  const fuzzy = (values: string[] | undefined, actual: string) =>
    values === undefined || values.some((v) => (v.includes("*") ? new RegExp(`^${v.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(actual) : v === actual));
  const exact = (values: string[] | undefined, actual: string | null) => values === undefined || values.some((v) => v === actual);
  const complete = q.get("complete")?.[0];
  if (complete !== undefined && complete !== "" && (complete.toLowerCase() === "true") !== (b.result !== null)) return false;
  return (
    fuzzy(q.get("pipeline"), b.pipeline) && fuzzy(q.get("project"), b.project) && fuzzy(q.get("branch"), "") &&
    exact(q.get("change"), null) && exact(q.get("patchset"), null) && exact(q.get("ref"), b.ref) && exact(q.get("newrev"), b.newrev) &&
    exact(q.get("uuid"), b.uuid) && exact(q.get("result"), b.result) &&
    // SQL: `result != 'X'` is not true for a NULL result, so any exclude_result leaves running buildsets out
    (q.get("exclude_result") === undefined || (b.result !== null && !q.get("exclude_result")!.includes(b.result)))
  );
}

/** CherryPy's default error page, as zuul-web sends it for an HTTPError. */
function cherryPyError(status: number, message: string): string {
  return `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html>
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></meta>
    <title>${status}</title>
</head>
    <body>
        <h2>${status}</h2>
        <p>${message.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</p>
    </body>
</html>
`;
}
