import type { CheckConclusion } from "./types.js";

/** Every status GitLab gives a pipeline, mapped once; the compiler finds a missing case. */
export const GITLAB_PIPELINE_STATUSES = [
  "created", "waiting_for_resource", "preparing", "pending", "running", "success", "failed", "canceled", "skipped", "manual", "scheduled",
] as const;
export type GitlabPipelineStatus = (typeof GITLAB_PIPELINE_STATUSES)[number];

export const RUN_FROM_GITLAB: Record<GitlabPipelineStatus, { state: "queued" | "in_progress" | "completed"; conclusion?: CheckConclusion }> = {
  created: { state: "queued" },
  waiting_for_resource: { state: "queued" },
  preparing: { state: "queued" },
  pending: { state: "queued" },
  scheduled: { state: "queued" },
  running: { state: "in_progress" },
  manual: { state: "completed", conclusion: "action_required" },
  success: { state: "completed", conclusion: "success" },
  failed: { state: "completed", conclusion: "failure" },
  canceled: { state: "completed", conclusion: "cancelled" },
  skipped: { state: "completed", conclusion: "skipped" },
};
