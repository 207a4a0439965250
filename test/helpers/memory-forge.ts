import type { Project } from "../../src/map/graph.js";
import type {
  CheckConclusion, CommentIds, CommentMode, Reporter, Runner, RunArtifact, RunStatus, Source, StatusReport, StatusTarget, TriggerResult, UpstreamContext,
} from "../../src/forge/roles.js";

/** An HTTP error as Octokit and the GitLab client throw it: a status and the API's message. */
export function httpError(status: number, message = status >= 500 ? "Bad Gateway" : "Not Found"): Error {
  return Object.assign(new Error(message), { status, response: { headers: {}, data: { message } } });
}

/** One run the forge holds: when it was created by the forge's clock, and the relay run id it carries. */
interface HeldRun {
  result: TriggerResult;
  relayRunId: string;
  createdAt: Date;
}

/**
 * A forge held in memory for the workers' unit tests (test/unit/workers-*-mutants): the runner's,
 * the source's and the reporter's side, answering as the forge would, with failures planted by the test.
 * It keeps every call, so a test can say what the relay asked of the forge. Not a mock of the
 * worker: the worker code runs as it is, against real Redis, only the forge's HTTP side is here.
 */
export class MemoryForge implements Runner, Source, Reporter {
  readonly calls: { op: string; project?: string; runId?: string; since?: Date; context?: UpstreamContext }[] = [];
  readonly runs: HeldRun[] = [];
  /** errors the next calls of an operation throw, first one first */
  readonly failures: Record<string, unknown[]> = {};
  /** whether a triggered run gets an id back (GitHub without return_run_details: none) */
  returnsRunId = true;
  /** what `retryRun` answers: a retried run (GitLab), or undefined (GitHub: trigger anew) */
  retries: "in-place" | "never" = "never";
  /** what `checkState` answers for an upstream's check */
  checkStates: Record<string, { completed: boolean; conclusion: CheckConclusion | undefined }> = {};
  /** the commit each tag names */
  tags: Record<string, string> = {};
  /** called inside triggerPipeline, before it answers (something that happens while the forge is asked) */
  duringTrigger: (() => void) | undefined;
  /** what `runStatus` answers, by run id (a run it does not hold: a 404) */
  runStates: Record<string, RunStatus> = {};
  /** the check runs of a check suite, by suite id: what each carries (its name, external id, title) and when it started */
  suiteChecks: Record<string, { label: string; startedAt: Date }[]> = {};
  /** the failing jobs `failedJobs` names, by run id (none: no failing job) */
  failingJobs: Record<string, string[]> = {};
  /** every status `reportStatus` wrote, first one first, with the id it was written under */
  readonly statuses: { target: StatusTarget; report: StatusReport; remoteId: string | undefined; id: string }[] = [];
  /** every comment `upsertComment` wrote, first one first */
  readonly comments: { target: StatusTarget; mode: CommentMode; body: string; known: CommentIds }[] = [];
  private next = 100;

  fail(op: string, ...errors: unknown[]): void {
    (this.failures[op] ??= []).push(...errors);
  }

  /** A run the forge started for `relayRunId`, created at `createdAt` by its own clock. */
  hold(relayRunId: string, createdAt: Date): TriggerResult {
    const result: TriggerResult = { kind: "workflow_dispatch", runId: String(this.next++), webUrl: `https://forge.example/runs/${this.next}` };
    this.runs.push({ result, relayRunId, createdAt });
    return result;
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  private planted(op: string): void {
    const error = this.failures[op]?.shift();
    if (error !== undefined) throw error;
  }

  async triggerPipeline(project: Project, context: UpstreamContext): Promise<TriggerResult> {
    this.calls.push({ op: "triggerPipeline", project: project.id, context });
    this.duringTrigger?.();
    this.planted("triggerPipeline");
    const result = this.hold(context.runId, new Date());
    if (!this.returnsRunId) result.runId = undefined;
    return result;
  }

  async findTriggered(project: Project, context: UpstreamContext, since: Date): Promise<TriggerResult | undefined> {
    this.calls.push({ op: "findTriggered", project: project.id, since, context });
    this.planted("findTriggered");
    return this.runs.find((r) => r.relayRunId === context.runId && r.createdAt >= since)?.result;
  }

  async retryRun(project: Project, runId: string): Promise<TriggerResult | undefined> {
    this.calls.push({ op: "retryRun", project: project.id, runId });
    this.planted("retryRun");
    return this.retries === "in-place" ? { kind: "pipeline", runId, webUrl: `https://forge.example/pipelines/${runId}` } : undefined;
  }

  async resolveTag(repo: string, tag: string): Promise<string> {
    this.calls.push({ op: "resolveTag", project: repo });
    this.planted("resolveTag");
    const sha = this.tags[tag];
    if (!sha) throw httpError(404);
    return sha;
  }

  async checkState(_repo: string, sha: string, name: string) {
    this.calls.push({ op: "checkState" });
    return this.checkStates[`${sha}/${name}`];
  }

  async checksPassed(): Promise<"passed"> {
    return "passed";
  }

  async visibility(): Promise<"public"> {
    return "public";
  }

  async listTags(): Promise<never> {
    throw new Error("not used by the trigger path");
  }

  async openPullRequests(): Promise<never> {
    throw new Error("not used by the trigger path");
  }

  async checkSuiteLabels(_repo: string, suiteId: string, since?: Date): Promise<string> {
    this.calls.push({ op: "checkSuiteLabels", runId: suiteId, ...(since ? { since } : {}) });
    return (this.suiteChecks[suiteId] ?? []).filter((c) => since === undefined || c.startedAt >= since).map((c) => c.label).join("\n");
  }

  async runStatus(_repo: string, runId: string): Promise<RunStatus> {
    this.calls.push({ op: "runStatus", runId });
    this.planted("runStatus");
    const state = this.runStates[runId];
    if (!state) throw httpError(404);
    return state;
  }

  async failedJobs(_repo: string, runId: string): Promise<string[]> {
    this.calls.push({ op: "failedJobs", runId });
    this.planted("failedJobs");
    return this.failingJobs[runId] ?? [];
  }

  async runArtifacts(_repo: string, runId: string): Promise<RunArtifact[]> {
    this.calls.push({ op: "runArtifacts", runId });
    this.planted("runArtifacts");
    return [];
  }

  /** A new status gets the next id (`status-<n>`); one written again keeps its id. */
  async reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string> {
    this.calls.push({ op: "reportStatus" });
    this.planted("reportStatus");
    const id = remoteId ?? `status-${this.next++}`;
    this.statuses.push({ target, report, remoteId, id });
    return id;
  }

  async upsertComment(target: StatusTarget, mode: CommentMode, _marker: string, body: string, known: CommentIds): Promise<CommentIds> {
    this.calls.push({ op: "upsertComment" });
    this.planted("upsertComment");
    this.comments.push({ target, mode, body, known });
    return { commit: known.commit ?? `comment-${this.next++}` };
  }
}
