import { z } from "zod";
import { classifyHttpError, ForgeError, fetchFailure } from "./errors.js";
import type { CheckConclusion } from "./run-state.js";
import { readCapped } from "../util/read-capped.js";

/**
 * What an `after_check` gate reads from a Zuul that builds an upstream (OpenDev's for OpenStack): the
 * newest buildset of a tag in a pipeline, from zuul-web's read-only REST API,
 * `GET {url}/api/tenant/{tenant}/buildsets?project=…&pipeline=…&ref=refs/tags/…&limit=1` (zuul/web/__init__.py
 * `buildsets`, listed newest first; a running buildset is listed with `result: null`). The pipeline's
 * name (`release`) is the check's name: "Nova's release pipeline succeeded, so its tarballs exist".
 * Anonymous; a read-protected tenant is a configuration error.
 */

export interface ZuulBuildsOptions {
  /** zuul-web's root, with any sub-URL it is served under: https://zuul.opendev.org, https://softwarefactory-project.io/zuul */
  url: string;
  tenant: string;
  /**
   * The root serves one white-labeled tenant (installation.rst "White Labeled Tenant": `/api/…` is rewritten
   * to `/api/tenant/{tenant}/…`): ask `{url}/api/buildsets`. `tenant` is then only named in messages.
   */
  whitelabel?: boolean;
  /** per request (default 20 s) */
  timeoutMs?: number;
  /** where a result this code does not know is noted (it counts as a failure) */
  log?: { warn(obj: object, msg: string): void };
}

export interface ZuulBuildset {
  uuid: string;
  /** null while its builds run */
  result: string | null;
  pipeline: string;
  /** the ref's new revision: a Gerrit annotated tag's is the tag object, not the commit */
  newrev: string | undefined;
  /** the buildset's page on zuul-web */
  url: string;
}

export const ZUUL_DEFAULTS = { timeoutMs: 20_000, maxBytes: 4 * 1024 * 1024, userAgent: "openci-relay" } as const;

/**
 * A buildset's result, as every Zuul result maps to a check's conclusion. A buildset's own results are
 * those the manager reports (zuul/manager/__init__.py setReportedResult, scheduler DEQUEUED); a build's
 * results are mapped too in case a Zuul ever reports one for the set.
 *
 * | Zuul result                          | conclusion | why |
 * |--------------------------------------|------------|-----|
 * | SUCCESS                              | success    | every voting job succeeded |
 * | FAILURE                              | failure    | a voting job failed, or the item was dequeued needing a change |
 * | ERROR                                | failure    | a reporter raised while reporting the item |
 * | MERGE_CONFLICT, MERGE_FAILURE        | failure    | the ref could not be merged (or a gate's merge failed): nothing was built |
 * | CONFIG_ERROR                         | failure    | the project's Zuul configuration is broken: nothing was built |
 * | POST_FAILURE, RETRY_LIMIT,           | failure    | build results: a job failed in its post-run, retried out, had no node, filled its disk |
 * |   NODE_FAILURE, DISK_FULL            |            |     |
 * | TIMED_OUT                            | timed_out  | a build result: a job ran out of time |
 * | NO_JOBS, SKIPPED                     | skipped    | nothing ran for this ref in the pipeline: no release was built |
 * | DEQUEUED, CANCELED, ABORTED          | cancelled  | taken out of the pipeline (superseded, dequeued by an operator), or a build cancelled |
 * | null                                 | —          | still running: `completed: false` |
 * | anything else                        | failure    | not a result this code knows: noted in the log, never a success |
 */
export const ZUUL_RESULTS: Readonly<Record<string, CheckConclusion>> = {
  SUCCESS: "success",
  FAILURE: "failure",
  ERROR: "failure",
  MERGE_CONFLICT: "failure",
  MERGE_FAILURE: "failure",
  CONFIG_ERROR: "failure",
  POST_FAILURE: "failure",
  RETRY_LIMIT: "failure",
  NODE_FAILURE: "failure",
  DISK_FULL: "failure",
  TIMED_OUT: "timed_out",
  NO_JOBS: "skipped",
  SKIPPED: "skipped",
  DEQUEUED: "cancelled",
  CANCELED: "cancelled",
  ABORTED: "cancelled",
};

/** Zuul ≥ 10 (BuildsetConverter: `refs`) or 3.6–9 (buildsetToDict: the one ref's fields at the top). */
const Ref = z.object({ project: z.string(), ref: z.string().nullable(), newrev: z.string().nullable().optional() });
const Buildset = z.object({
  uuid: z.string().min(1),
  result: z.string().nullable(),
  pipeline: z.string(),
  refs: z.array(Ref).optional(),
  project: z.string().optional(),
  ref: z.string().nullable().optional(),
  newrev: z.string().nullable().optional(),
});
const Buildsets = z.array(Buildset);

/** A tag's name or full ref, as Zuul stores a Gerrit tag's (`refs/tags/{tag}`); any other full ref as it is. */
export function zuulRef(ref: string): string {
  const r = ref.trim();
  if (r === "" || r === "refs/tags/") throw new ForgeError("reading Zuul's buildsets: no tag named", "config", { hint: "the gate names the upstream's tag" });
  return r.startsWith("refs/") ? r : `refs/tags/${r}`;
}

export class ZuulBuilds {
  private readonly root: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ZuulBuildsOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new ForgeError(`zuul.url ${JSON.stringify(opts.url)} is not a URL`, "config", { hint: "zuul.url is zuul-web's root, e.g. https://zuul.opendev.org" });
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      throw new ForgeError(`zuul.url ${opts.url} is not http(s)`, "config", { hint: "zuul.url is zuul-web's root, e.g. https://zuul.opendev.org" });
    }
    if (u.search !== "" || u.hash !== "" || u.username !== "" || u.password !== "") {
      throw new ForgeError(`zuul.url ${opts.url} has a query, a fragment or credentials`, "config", { hint: "zuul.url is zuul-web's root, e.g. https://zuul.opendev.org; the relay reads Zuul anonymously" });
    }
    if (opts.tenant.trim() === "") throw new ForgeError("zuul.tenant is empty", "config", { hint: "name the Zuul tenant that builds the upstream, e.g. openstack" });
    this.root = `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
    this.timeoutMs = opts.timeoutMs ?? ZUUL_DEFAULTS.timeoutMs;
  }

  /**
   * The newest buildset of `ref` (a tag's name or `refs/tags/…`) of `project` in `pipeline`: what an
   * `after_check` gate waits for. undefined: none yet (the pipeline has not started on the tag).
   */
  async checkState(project: string, ref: string, pipeline: string, signal?: AbortSignal): Promise<{ completed: boolean; conclusion: CheckConclusion | undefined } | undefined> {
    const b = await this.latestBuildset(project, ref, pipeline, signal);
    if (!b) return undefined;
    if (b.result === null) return { completed: false, conclusion: undefined };
    return { completed: true, conclusion: this.conclusionOf(b.result, b) };
  }

  /** The newest buildset, as checkState reads it (with its page, for a report's link). */
  async latestBuildset(project: string, ref: string, pipeline: string, signal?: AbortSignal): Promise<ZuulBuildset | undefined> {
    const fullRef = zuulRef(ref);
    const what = `reading Zuul's ${pipeline} buildsets of ${project} ${fullRef} (${this.opts.tenant} on ${this.root})`;
    // Zuul matches project and pipeline with `*` as a wildcard (sqlconnection.py listFilterFuzzy): an exact name has none
    for (const [name, value] of [["project", project], ["pipeline", pipeline]] as const) {
      if (value === "" || value.includes("*")) throw new ForgeError(`${what}: the ${name} ${JSON.stringify(value)} cannot be asked for exactly`, "config", { hint: `name the Zuul ${name} as Zuul knows it (no '*': Zuul reads it as a wildcard)` });
    }
    const query = new URLSearchParams({ project, pipeline, ref: fullRef, limit: "1" });
    const path = this.opts.whitelabel ? "/api/buildsets" : `/api/tenant/${encodeURIComponent(this.opts.tenant)}/buildsets`;
    const body = await this.get(`${this.root}${path}?${query}`, what, signal);
    const parsed = Buildsets.safeParse(body);
    if (!parsed.success) throw new ForgeError(`${what}: the answer is not a list of Zuul buildsets (${parsed.error.issues[0]?.message ?? "unexpected shape"})`, "config", { hint: this.urlHint() });
    const b = parsed.data[0];
    if (!b) return undefined;
    const refs = b.refs ?? [{ project: b.project ?? "", ref: b.ref ?? null, newrev: b.newrev }];
    const mine = refs.find((r) => r.project === project && r.ref === fullRef);
    if (b.pipeline !== pipeline || !mine) {
      throw new ForgeError(`${what}: Zuul answered the ${b.pipeline} buildset ${b.uuid} of ${refs.map((r) => `${r.project} ${r.ref}`).join(", ")}, not the one asked for`, "config", { hint: this.urlHint() });
    }
    const page = this.opts.whitelabel ? `${this.root}/buildset/${b.uuid}` : `${this.root}/t/${encodeURIComponent(this.opts.tenant)}/buildset/${b.uuid}`;
    return { uuid: b.uuid, result: b.result, pipeline: b.pipeline, newrev: mine.newrev ?? undefined, url: page };
  }

  private conclusionOf(result: string, b: ZuulBuildset): CheckConclusion {
    const known = ZUUL_RESULTS[result];
    if (known !== undefined) return known;
    this.opts.log?.warn({ zuul: this.root, tenant: this.opts.tenant, buildset: b.uuid, pipeline: b.pipeline, result }, `Zuul buildset result ${result} is not one the relay knows: taken as a failure`);
    return "failure";
  }

  private urlHint(): string {
    return this.opts.whitelabel
      ? "zuul.url must be the root of a white-labeled zuul-web (its API at /api/buildsets)"
      : "zuul.url must be zuul-web's root (its API at /api/tenant/{tenant}/…), e.g. https://zuul.opendev.org";
  }

  private async get(url: string, what: string, signal: AbortSignal | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const all = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { headers: { Accept: "application/json", "User-Agent": ZUUL_DEFAULTS.userAgent }, signal: all, redirect: "follow" });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw this.statusError(res, what);
      }
      const buf = await readCapped(res, ZUUL_DEFAULTS.maxBytes, () => new ForgeError(`${what}: the answer is larger than ${ZUUL_DEFAULTS.maxBytes} bytes`, "config", { hint: this.urlHint() }));
      text = buf.toString("utf8");
    } catch (err) {
      throw fetchFailure(err, what, { signal, timeout, timeoutMs: this.timeoutMs, slow: "zuul-web" });
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ForgeError(`${what}: the answer is not JSON`, "config", { hint: this.urlHint() });
    }
  }

  /**
   * zuul-web's statuses: 404 an unknown tenant (or no such route: not zuul-web's root); 422 a tenant
   * configured but not loaded yet (transient: it loads); 401/403 a read-protected tenant; 429 and 5xx
   * (a proxy, the database's query timeout) transient.
   */
  private statusError(res: Response, what: string): ForgeError {
    const status = res.status;
    if (status === 422) {
      return new ForgeError(`${what}: 422 the tenant is not loaded yet`, "transient", { status, hint: "Zuul is still loading the tenant's configuration; the next try may get through" });
    }
    const e = classifyHttpError({ status, message: res.statusText, response: { headers: Object.fromEntries(res.headers) } }, what);
    if (e.kind !== "config") return e;
    const hint =
      status === 404
        ? `check zuul.tenant (${this.opts.tenant}): Zuul knows no such tenant, or ${this.urlHint()}`
        : status === 401 || status === 403
          ? "the tenant is read-protected (access-rules): the relay reads Zuul anonymously, so it cannot gate on this tenant"
          : this.urlHint();
    return new ForgeError(e.message, "config", { status, hint });
  }
}
