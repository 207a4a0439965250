import type { Project } from "../map/graph.js";

/** What the downstream pipeline is told about the upstream that started it. */
export interface UpstreamContext {
  upstreamId: string;
  upstreamRepo: string;
  tag: string;
  sha: string;
  /** The relay run id: correlates the downstream run with this trigger. */
  runId: string;
}

export interface TriggerResult {
  kind: "workflow_dispatch" | "repository_dispatch" | "pipeline";
  /** The downstream run's id when the forge returned one (GitHub: return_run_details). */
  runId: string | undefined;
  /** A page a person can open: the run itself, else the closest list of runs. */
  webUrl: string;
}

export type CheckStatus = "queued" | "in_progress" | "completed";
export type CheckConclusion =
  | "success"
  | "failure"
  | "cancelled"
  | "timed_out"
  | "neutral"
  | "skipped"
  | "action_required";

/** One downstream, shown on the upstream commit (a check run on GitHub, a commit status on GitLab). */
export interface StatusReport {
  name: string;
  status: CheckStatus;
  conclusion: CheckConclusion | undefined;
  title: string;
  summary: string;
  detailsUrl: string | undefined;
  externalId: string;
}

export interface StatusTarget {
  repo: string;
  sha: string;
}

/** One interface per forge; the relay's flow never branches on which forge it talks to. */
export interface Forge {
  /** The commit a tag points to; `hintSha` is what the delivery named (maybe an annotated tag object). */
  resolveTag(repo: string, tag: string, hintSha: string | undefined): Promise<string>;
  triggerPipeline(project: Project, context: UpstreamContext): Promise<TriggerResult>;
  /** Names of the jobs of a downstream run that failed (for the upstream summary). */
  failedJobs(repo: string, runId: string): Promise<string[]>;
  /** Creates or updates the status; `remoteId` is the id a previous call returned. Returns the id. */
  reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string>;
}
