import type { CheckConclusion } from "./run-state.js";

/**
 * Every status GitLab gives a pipeline or a job (the same set; `canceling` and `waiting_for_callback`
 * in recent versions), mapped once;
 * the compiler finds a missing case.
 */
export const GITLAB_PIPELINE_STATUSES = [
  "created", "waiting_for_resource", "preparing", "pending", "running", "waiting_for_callback", "success", "failed", "canceling", "canceled", "skipped", "manual", "scheduled",
] as const;
export type GitlabPipelineStatus = (typeof GITLAB_PIPELINE_STATUSES)[number];

export const RUN_FROM_GITLAB: Record<GitlabPipelineStatus, { state: "queued" | "in_progress" | "completed"; conclusion?: CheckConclusion }> = {
  created: { state: "queued" },
  waiting_for_resource: { state: "queued" },
  preparing: { state: "queued" },
  pending: { state: "queued" },
  scheduled: { state: "queued" },
  running: { state: "in_progress" },
  canceling: { state: "in_progress" },
  waiting_for_callback: { state: "in_progress" },
  manual: { state: "completed", conclusion: "action_required" },
  success: { state: "completed", conclusion: "success" },
  failed: { state: "completed", conclusion: "failure" },
  canceled: { state: "completed", conclusion: "cancelled" },
  skipped: { state: "completed", conclusion: "skipped" },
};

/** The commit status states GitLab accepts (POST /projects/:id/statuses/:sha). */
export type GitlabCommitState = "pending" | "running" | "success" | "failed" | "canceled" | "skipped";

/** A downstream's upstream status, as a GitLab commit status state. */
export function commitStateOf(status: "queued" | "in_progress" | "completed", conclusion: CheckConclusion | undefined): GitlabCommitState {
  if (status === "queued") return "pending";
  if (status === "in_progress") return "running";
  switch (conclusion ?? "neutral") {
    case "success":
    case "neutral":
      return "success";
    case "skipped":
      return "skipped";
    case "cancelled":
      return "canceled";
    case "failure":
    case "timed_out":
    case "action_required":
      return "failed";
  }
}

/** The relay's own statuses on an upstream commit (`openci`, `openci: <downstream>`): GitLab lists them as jobs. */
export const isRelayStatus = (name: string) => name === "openci" || name.startsWith("openci: ");

/**
 * Whether an upstream pipeline has passed, for an `after_check: pipeline` gate, judged by its own
 * jobs: the relay's statuses are jobs of the same pipeline (GitLab attaches a commit status to the
 * commit's latest pipeline), so the pipeline's own status would wait for the very downstreams the
 * gate holds back. Undefined while a job of its own still runs, or when it has none.
 */
export function pipelineOutcome(jobs: { name: string; status: string; allow_failure?: boolean | undefined }[]): CheckConclusion | undefined {
  const own = jobs.filter((j) => !isRelayStatus(j.name));
  if (own.length === 0) return undefined;
  const states = own.map((j) => RUN_FROM_GITLAB[j.status as GitlabPipelineStatus] ?? { state: "in_progress" as const });
  if (states.some((s) => s.state !== "completed")) return undefined;
  if (own.some((j) => j.status === "failed" && j.allow_failure !== true)) return "failure";
  if (own.some((j) => j.status === "canceled")) return "cancelled";
  return "success";
}
