import { z } from "zod";
import type { Project } from "../map/graph.js";
import { readCapped } from "../util/read-capped.js";
import { classifyHttpError, fetchFailure, ForgeError, withHint, type Hints } from "./errors.js";
import { CONCLUSION_OF_RESULT, isJenkinsResult, jenkinsRunId, jobOfUrlPath, jobPathOf, queueIdOf, JENKINS_RESULTS } from "./jenkins-status.js";
import type { RunArtifact, Runner, RunStatus, TriggerResult, UpstreamContext } from "./roles.js";
import { gitlabVariables } from "./trigger-inputs.js";

export interface JenkinsRunnerOptions {
  /** Jenkins' base URL with its context path, if any: https://jenkins.example.org, https://build.example.org/jenkins */
  url: string;
  /** the account builds are started as: with an API token (recommended: no CSRF crumb), or a password (a crumb per trigger) */
  auth: { user: string; token: string } | { user: string; password: string };
  /** each request, its answer included (default 30 s) */
  timeoutMs?: number;
  /** the map's variables holding the credentials (user_env, token_env or password_env), named in hints */
  vars?: { user?: string | undefined; secret?: string | undefined };
}

/** The build parameter carrying the relay run id (trigger-inputs.ts): what makes each trigger's queue item its own. */
const RUN_PARAMETER = "OPENCI_RUN";
/** Failing tests named at most (the report shows fewer; the count says how many failed of those named). */
const MAX_FAILED_TESTS = 100;
/** Artifacts listed at most: a link each, on the dashboard and in the history. */
const MAX_ARTIFACTS = 200;
/** The largest answer read (a big test report's cases): anything larger is refused rather than buffered. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/* ----- what Jenkins answers (only the fields read; `tree` asks for no more) ------------------------- */

/** `actions[parameters[name,value]]`: the ParametersAction among a queue item's or a build's actions (the others answer `{_class}`). */
const Actions = z.array(z.object({ parameters: z.array(z.object({ name: z.string(), value: z.unknown() })).optional() })).optional();
const QueueItem = z.object({
  id: z.number().int().positive(),
  task: z.object({ url: z.string().optional() }).optional(),
  /** a LeftItem's: cancelled before it started */
  cancelled: z.boolean().optional(),
  /** a LeftItem's: the build it became (null while waiting, or when cancelled) */
  executable: z.object({ number: z.number().int().positive(), url: z.string().optional() }).nullable().optional(),
});
const QueueItems = z.object({ items: z.array(QueueItem.extend({ actions: Actions })) });
const Build = z.object({
  number: z.number().int().positive(),
  url: z.string(),
  building: z.boolean(),
  result: z.string().nullable(),
  timestamp: z.number(),
  duration: z.number().optional(),
});
const BuildRefs = z.object({ builds: z.array(z.object({ number: z.number().int().positive(), queueId: z.number().int(), url: z.string().optional(), actions: Actions })) });
const BuildArtifacts = z.object({ url: z.string(), artifacts: z.array(z.object({ fileName: z.string(), relativePath: z.string() })) });
const TestReport = z.object({ suites: z.array(z.object({ cases: z.array(z.object({ className: z.string(), name: z.string(), status: z.string() })) })) });
const Crumb = z.object({ crumb: z.string().min(1), crumbRequestField: z.string().min(1) });

const BUILD_TREE = "number,url,building,result,timestamp,duration";

type Where = { kind: "queued"; cancelled: boolean } | { kind: "build"; number: number };

/**
 * Jenkins as a runner, through its remote access API with HTTP basic auth: a downstream's pipeline
 * is a parameterised job (`folder/name`), started with `buildWithParameters` and the OPENCI_*
 * parameters, followed through its queue item to its build. The relay's run id is the queue item's
 * (`queue:<N>`): Jenkins answers the trigger with it, keeps it on the build (`queueId`) and the
 * Notification plugin reports it (`queue_id`), so it names the run from start to end; once Jenkins
 * forgets the queue item (about 5 minutes after it left the queue), the build is found by its
 * `queueId`. Requests go only to `url`: the absolute URLs Jenkins writes (its own "Jenkins URL") are
 * shown to people, never followed with the credentials.
 */
export class JenkinsRunner implements Runner {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: JenkinsRunnerOptions) {
    this.base = o.url.replace(/\/+$/, "");
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async triggerPipeline(project: Project, ctx: UpstreamContext): Promise<TriggerResult> {
    const job = jobOf(project);
    const path = this.jobPath(job);
    const what = `starting a build of ${job} on ${this.base}`;
    const form = new URLSearchParams(gitlabVariables(ctx).map((v): [string, string] => [v.key, v.value]));
    const headers = "password" in this.o.auth ? await this.crumbHeaders(what) : {};
    const res = await this.request(what, `${path}/buildWithParameters`, {
      method: "POST", form, headers, accept: [201, 303],
      hints: {
        ...this.hints(job),
        400: (m) => (/not parameterized/.test(m) ? `Declare the OPENCI_* string parameters in ${job} ("This project is parameterized"): Jenkins starts a build with parameters only of a job that has some.` : undefined),
        409: () => `${job} is disabled: enable it in Jenkins, or take it out of the map.`,
      },
    });
    // 201: a new queue item. 303: Jenkins merged the request into an item still waiting with the very
    // same parameters, which with OPENCI_RUN in them is this trigger's own earlier attempt: one build.
    const location = res.headers.get("location") ?? "";
    const id = /\/queue\/item\/([1-9]\d*)\/?$/.exec(URL.canParse(location, `${this.base}/`) ? new URL(location, `${this.base}/`).pathname : "")?.[1];
    if (id === undefined) {
      throw new ForgeError(`${what}: Jenkins answered ${res.status} without a queue item (Location: ${location || "none"})`, "config", {
        status: res.status, hint: "Jenkins did not queue the build: a plugin may veto it (a queue decision handler), or the URL is not Jenkins' own.",
      });
    }
    return { kind: "build", runId: jenkinsRunId(Number(id)), webUrl: `${this.base}${path}/` };
  }

  /**
   * The queue item or build of the job whose OPENCI_RUN parameter is this trigger's run id: first
   * among the items still waiting, then among the job's builds (the newest 100, all Jenkins lists).
   * `since` is not needed to tell runs apart: OPENCI_RUN is unique to each trigger.
   */
  async findTriggered(project: Project, ctx: UpstreamContext, _since: Date): Promise<TriggerResult | undefined> {
    const job = jobOf(project);
    const path = this.jobPath(job);
    const ours = (actions: z.infer<typeof Actions>) => (actions ?? []).some((a) => a.parameters?.some((p) => p.name === RUN_PARAMETER && String(p.value) === ctx.runId));
    const queue = await this.json(`reading the build queue of ${this.base}`, "/queue/api/json", QueueItems, { tree: "items[id,task[url],actions[parameters[name,value]]]" }, this.hints());
    const waiting = queue!.items.find((i) => this.isJob(i.task?.url, job) && ours(i.actions));
    if (waiting) return { kind: "build", runId: jenkinsRunId(waiting.id), webUrl: `${this.base}${path}/` };
    const builds = await this.json(`listing the builds of ${job}`, `${path}/api/json`, BuildRefs, { tree: "builds[number,queueId,url,actions[parameters[name,value]]]" }, this.hints(job));
    const started = builds!.builds.find((b) => ours(b.actions));
    if (!started) return undefined;
    return { kind: "build", runId: jenkinsRunId(started.queueId), webUrl: started.url ?? `${this.base}${path}/${started.number}/` };
  }

  /** Jenkins has no rerun of a build in place (a "rebuild" is a new build): the relay triggers anew, with a new OPENCI_RUN. */
  async retryRun(): Promise<TriggerResult | undefined> {
    return undefined;
  }

  /** Jenkins reports no checks: nothing carries a relay run id there. */
  async checkSuiteLabels(): Promise<string> {
    return "";
  }

  async runStatus(job: string, runId: string): Promise<RunStatus> {
    const where = await this.locate(job, runId);
    const jobUrl = `${this.base}${this.jobPath(job)}/`;
    if (where.kind === "queued") {
      return where.cancelled
        ? { state: "completed", conclusion: "cancelled", webUrl: jobUrl, startedAt: undefined, updatedAt: undefined }
        : { state: "queued", conclusion: undefined, webUrl: jobUrl, startedAt: undefined, updatedAt: undefined };
    }
    const what = `reading build ${where.number} of ${job}`;
    const b = (await this.json(what, `${this.jobPath(job)}/${where.number}/api/json`, Build, { tree: BUILD_TREE }, this.hints(job)))!;
    const startedAt = isoTime(b.timestamp);
    if (b.building || b.result === null) return { state: "in_progress", conclusion: undefined, webUrl: b.url, startedAt, updatedAt: undefined };
    if (!isJenkinsResult(b.result)) {
      throw new ForgeError(`${what}: Jenkins gave the result '${b.result}', not one of ${JENKINS_RESULTS.join(", ")}`, "config", {
        hint: "Every Jenkins build ends with one of those five results; something between the relay and Jenkins changed the answer.",
      });
    }
    return { state: "completed", conclusion: CONCLUSION_OF_RESULT[b.result], webUrl: b.url, startedAt, updatedAt: isoTime(b.timestamp + (b.duration ?? 0)) };
  }

  /** The failing tests of the build's JUnit report (`className.name`, FAILED or REGRESSION); none without a report. */
  async failedJobs(job: string, runId: string): Promise<string[]> {
    const where = await this.locate(job, runId);
    if (where.kind !== "build") return [];
    const report = await this.json(`reading the test report of build ${where.number} of ${job}`, `${this.jobPath(job)}/${where.number}/testReport/api/json`, TestReport, {
      tree: "suites[cases[className,name,status]]",
    }, this.hints(job), { missing: true });
    if (!report) return [];
    const failing = report.suites.flatMap((s) => s.cases).filter((c) => c.status === "FAILED" || c.status === "REGRESSION");
    return failing.slice(0, MAX_FAILED_TESTS).map((c) => `${c.className}.${c.name}`);
  }

  /** The build's archived artifacts, each a link to its page in Jenkins (`<build>/artifact/<path>`). */
  async runArtifacts(job: string, runId: string): Promise<RunArtifact[]> {
    const where = await this.locate(job, runId);
    if (where.kind !== "build") return [];
    const b = (await this.json(`listing the artifacts of build ${where.number} of ${job}`, `${this.jobPath(job)}/${where.number}/api/json`, BuildArtifacts, {
      tree: `url,artifacts[fileName,relativePath]{0,${MAX_ARTIFACTS}}`,
    }, this.hints(job)))!;
    const buildUrl = b.url.endsWith("/") ? b.url : `${b.url}/`;
    return b.artifacts.map((a) => ({ name: a.relativePath, url: `${buildUrl}artifact/${a.relativePath.split("/").map(encodeURIComponent).join("/")}` }));
  }

  /* ----- where a run is: its queue item, else its build by queueId ------------------------------ */

  private async locate(job: string, runId: string): Promise<Where> {
    const id = queueIdOf(runId);
    if (id === undefined) throw new ForgeError(`'${runId}' is not the run id of a Jenkins build (queue:<N>)`, "config", { hint: "The relay names a Jenkins run by its queue item: queue:<id>." });
    const path = this.jobPath(job);
    const item = await this.json(`reading queue item ${id} of ${this.base}`, `/queue/item/${id}/api/json`, QueueItem, {
      tree: "id,task[url],cancelled,executable[number,url]",
    }, this.hints(), { missing: true });
    if (item) {
      if (item.task?.url !== undefined && !this.isJob(item.task.url, job)) {
        throw new ForgeError(`queue item ${id} of ${this.base} is not a build of ${job} (its task is ${item.task.url})`, "config", {
          hint: "The run id and the job do not belong together: the map's job path changed since the build was started?",
        });
      }
      if (item.executable) return { kind: "build", number: item.executable.number };
      return { kind: "queued", cancelled: item.cancelled === true };
    }
    // Jenkins forgets a queue item about 5 minutes after it left the queue: the build keeps its queueId.
    const builds = (await this.json(`looking for the build of queue item ${id} among the builds of ${job}`, `${path}/api/json`, BuildRefs, { tree: "builds[number,queueId]" }, this.hints(job)))!;
    const build = builds.builds.find((b) => b.queueId === id);
    if (build) return { kind: "build", number: build.number };
    throw new ForgeError(`queue item ${id} is gone from ${this.base} and no build of ${job} has queueId ${id}`, "config", {
      hint: "Jenkins forgets a queue item 5 minutes after it leaves the queue, and lists a job's newest 100 builds: the item was cancelled, or its build deleted or pushed out by 100 newer ones.",
    });
  }

  /** Whether an absolute job URL Jenkins wrote (under its own root URL, maybe not `url`) is this job's. */
  private isJob(url: string | undefined, job: string): boolean {
    if (url === undefined || !URL.canParse(url)) return false;
    const path = new URL(url).pathname;
    const at = path.search(/\/job\//);
    return at >= 0 && jobOfUrlPath(path.slice(at))?.job === job;
  }

  private jobPath(job: string): string {
    try {
      return jobPathOf(job);
    } catch (e) {
      throw new ForgeError((e as Error).message, "config", { hint: "The map's job is the job's full name: its folders and name joined by '/', as in …/job/folder/job/name/ (folder/name)." });
    }
  }

  /* ----- HTTP ------------------------------------------------------------------------------------ */

  /** A crumb and the session it belongs to (Jenkins 2.176.2+ ties the crumb to the web session), for a POST with a password. */
  private async crumbHeaders(what: string): Promise<Record<string, string>> {
    const res = await this.request(`${what}: asking for a CSRF crumb`, "/crumbIssuer/api/json", { accept: [404], hints: this.hints() });
    if (res.status === 404) return {}; // CSRF protection is off: no crumb issuer, no crumb needed
    const crumb = parseJson(`${what}: asking for a CSRF crumb`, res.text, Crumb);
    const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]!.trim()).filter((c) => c.includes("=")).join("; ");
    return { [crumb.crumbRequestField]: crumb.crumb, ...(cookie ? { Cookie: cookie } : {}) };
  }

  /** GET `path` and parse its JSON; with `missing`, a 404 is undefined (a forgotten queue item, a build without a test report). */
  private async json<T>(what: string, path: string, schema: z.ZodType<T>, query: Record<string, string>, hints: Hints, o: { missing?: boolean } = {}): Promise<T | undefined> {
    const res = await this.request(what, path, { query, hints, accept: o.missing ? [404] : [] });
    if (res.status === 404) return undefined;
    return parseJson(what, res.text, schema);
  }

  private async request(what: string, path: string, o: {
    method?: "GET" | "POST"; query?: Record<string, string>; form?: URLSearchParams; headers?: Record<string, string>; accept?: number[]; hints: Hints;
  }): Promise<{ status: number; headers: Headers; text: string }> {
    const url = new URL(`${this.base}${path}`);
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    const secret = "token" in this.o.auth ? this.o.auth.token : this.o.auth.password;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(url, {
        method: o.method ?? "GET",
        headers: {
          Authorization: `Basic ${Buffer.from(`${this.o.auth.user}:${secret}`, "utf8").toString("base64")}`,
          Accept: "application/json", "User-Agent": "openci-relay",
          ...(o.form ? { "Content-Type": "application/x-www-form-urlencoded" } : {}),
          ...o.headers,
        },
        ...(o.form ? { body: o.form.toString() } : {}),
        // A 303 from buildWithParameters names the queue item; any other redirect (a login page) is an error, not followed.
        redirect: "manual",
        signal: timeout,
      });
      const text = (await readCapped(res, MAX_ANSWER_BYTES, () => new ForgeError(`${what}: the answer is larger than ${MAX_ANSWER_BYTES} bytes`, "config", {
        hint: "Jenkins answered far more than asked for: check that the URL is Jenkins' own.",
      }))).toString("utf8");
      const ok = (res.status >= 200 && res.status < 300) || (o.accept ?? []).includes(res.status);
      if (!ok) throw this.statusError(what, res, text, o.hints);
      return { status: res.status, headers: res.headers, text };
    } catch (err) {
      throw fetchFailure(err, what, { timeout, timeoutMs: this.timeoutMs, slow: `Jenkins at ${this.base}` });
    }
  }

  private statusError(what: string, res: Response, text: string, hints: Hints): ForgeError {
    const detail = plainText(text);
    if (res.status >= 300 && res.status < 400) {
      return new ForgeError(`${what}: Jenkins redirected to ${res.headers.get("location") ?? "nowhere"} (${res.status})`, "config", {
        status: res.status, hint: `Check the URL (${this.base}): give Jenkins' own, with its context path; a redirect to a login page means a proxy in front of Jenkins wants its own sign-in.`,
      });
    }
    const classified = classifyHttpError({ status: res.status, message: detail || res.statusText, response: { headers: Object.fromEntries(res.headers) } }, what);
    return withHint(classified, hints);
  }

  /** What a person fixes for each refusal; `job` where the request was about one. */
  private hints(job?: string): Hints {
    const user = this.o.auth.user;
    const password = "password" in this.o.auth;
    const userVar = this.o.vars?.user ?? "user_env";
    const secretVar = this.o.vars?.secret ?? (password ? "password_env" : "token_env");
    return {
      401: () => `Jenkins at ${this.base} refused the credentials of '${user}': check the variables the map names (${userVar}, ${secretVar})${password ? "" : "; the token is an API token of that user (its page > Security > API Token)"}.`,
      403: (m) => (/crumb/i.test(m)
        ? `Jenkins wants a CSRF crumb of the same web session: ${password ? "the relay asks /crumbIssuer for one; a proxy that drops the session cookie breaks this" : "requests with an API token are exempt, so this one was not taken as a token"}. Use an API token (token_env).`
        : `'${user}' lacks a permission on ${this.base}: it needs Overall/Read, and Job/Read and Job/Build on ${job ?? "the job"}.`),
      404: () => (job
        ? `No job '${job}' that '${user}' can see on ${this.base}: the map's job is its full name (folders and name joined by '/', as in …/job/folder/job/name/), and its url includes Jenkins' context path (e.g. https://host/jenkins).`
        : `Nothing at ${this.base}: check the map's url (Jenkins' base URL, with its context path).`),
    };
  }
}

/** The job path the map gives a project's Jenkins trigger. */
function jobOf(project: Project): string {
  const job = project.trigger?.jenkins?.job;
  if (!job) throw new Error(`JenkinsRunner cannot trigger ${project.id}: its map entry has no trigger.jenkins.job`);
  return job;
}

function parseJson<T>(what: string, text: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ForgeError(`${what}: the answer is not JSON (${JSON.stringify(text.slice(0, 80))})`, "config", {
      hint: "Check the map's url: Jenkins' remote API answers JSON at …/api/json; a web page means another server (or a proxy's sign-in page) answered.",
    });
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ");
  throw new ForgeError(`${what}: not the answer Jenkins gives (${issues})`, "config", { hint: "Check the map's url: it must be Jenkins' own base URL." });
}

/** An error page's text, short: Jenkins answers refusals with HTML. */
function plainText(text: string): string {
  return text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
}

function isoTime(ms: number): string | undefined {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}
