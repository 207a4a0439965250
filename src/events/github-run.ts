import { z } from "zod";
import { Timestamp, WebUrl } from "./payload-fields.js";
import { GITHUB_REPO } from "../map/places.js";
import type { CheckConclusion } from "../forge/run-state.js";
import type { Delivery } from "./github.js";
import { parsePayload } from "./parse-payload.js";
import type { PullHeadEvent } from "./pull-head-event.js";
import type { RunEvent } from "./run-event.js";

/** Every conclusion GitHub gives a workflow run, mapped once; the compiler finds a missing case. */
const GITHUB_RUN_CONCLUSIONS = [
  "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", "stale", "startup_failure",
] as const;
type GithubRunConclusion = (typeof GITHUB_RUN_CONCLUSIONS)[number];
export const CONCLUSION_FROM_GITHUB_RUN: Record<GithubRunConclusion, CheckConclusion> = {
  success: "success",
  failure: "failure",
  neutral: "neutral",
  cancelled: "cancelled",
  skipped: "skipped",
  timed_out: "timed_out",
  action_required: "action_required",
  stale: "neutral",
  startup_failure: "failure",
};

const WorkflowRunPayload = z.object({
  action: z.string(),
  workflow_run: z.object({
    id: z.number().int().positive(),
    name: z.string().nullable().optional(),
    display_title: z.string().optional(),
    path: z.string().max(1000).optional(),
    workflow_id: z.number().int().optional(),
    event: z.string().max(100).optional(),
    created_at: Timestamp,
    status: z.string().nullable(),
    conclusion: z.enum(GITHUB_RUN_CONCLUSIONS).nullable(),
    html_url: WebUrl,
    run_started_at: Timestamp,
    updated_at: Timestamp,
  }),
  repository: z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name") }),
  installation: z.object({ id: z.number().int().positive() }).optional(),
});

/** `workflow_run` (requested, in_progress, completed) of any repository → RunEvent; other actions → null. */
export function normaliseGithubRun(delivery: Delivery): RunEvent | null {
  if (delivery.name !== "workflow_run") return null;
  const { action, workflow_run: run, repository, installation } = parsePayload(WorkflowRunPayload, delivery.payload, "workflow_run");
  if (action !== "requested" && action !== "in_progress" && action !== "completed") return null;
  const completed = action === "completed" || run.status === "completed";
  return {
    forge: "github",
    repo: repository.full_name,
    runId: String(run.id),
    title: [run.display_title, run.name].filter(Boolean).join(" "),
    state: completed ? "completed" : action === "in_progress" ? "in_progress" : "queued",
    conclusion: completed ? CONCLUSION_FROM_GITHUB_RUN[run.conclusion ?? "neutral"] : undefined,
    webUrl: run.html_url,
    startedAt: run.run_started_at,
    updatedAt: run.updated_at,
    ...(run.created_at !== undefined ? { createdAt: run.created_at } : {}),
    ...(run.path !== undefined && run.event !== undefined
      ? { workflow: { path: run.path, event: run.event, ...(run.workflow_id !== undefined ? { id: run.workflow_id } : {}) } }
      : {}),
    installationId: installation?.id,
    deliveryId: delivery.id,
    source: "workflow_run",
  };
}

const CheckSuitePayload = z.object({
  action: z.string(),
  check_suite: z.object({
    id: z.number().int().positive(),
    head_sha: z.string().regex(/^[0-9a-f]{40}$/),
    conclusion: z.enum(GITHUB_RUN_CONCLUSIONS).nullable(),
    app: z.object({ id: z.number().int(), slug: z.string().optional() }).nullable().optional(),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
  repository: z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name"), html_url: WebUrl }),
  installation: z.object({ id: z.number().int().positive() }).optional(),
});

/**
 * `check_suite.completed` from CI that reports through checks rather than Actions → RunEvent.
 * GitHub Actions suites (workflow_run covers them) and the relay's own suites → null.
 */
export function normaliseGithubCheckSuite(delivery: Delivery, ownAppId: number): RunEvent | null {
  if (delivery.name !== "check_suite") return null;
  const { action, check_suite: suite, repository, installation } = parsePayload(CheckSuitePayload, delivery.payload, "check_suite");
  if (action !== "completed" || suite.app?.slug === "github-actions" || suite.app?.id === ownAppId) return null;
  return {
    forge: "github",
    source: "check_suite",
    repo: repository.full_name,
    runId: `suite-${suite.id}`,
    title: "",
    state: "completed",
    conclusion: CONCLUSION_FROM_GITHUB_RUN[suite.conclusion ?? "neutral"],
    webUrl: `${repository.html_url}/commit/${suite.head_sha}/checks`,
    startedAt: suite.created_at,
    updatedAt: suite.updated_at,
    createdAt: suite.created_at,
    installationId: installation?.id,
    deliveryId: delivery.id,
  };
}

/** A passing `check_suite.completed` of another app → PullHeadEvent (forks' suites list no pull request, so none is assumed). */
export function normaliseGithubPullHead(delivery: Delivery, ownAppId: number): PullHeadEvent | null {
  if (delivery.name !== "check_suite") return null;
  const parsed = CheckSuitePayload.safeParse(delivery.payload);
  if (!parsed.success) return null;
  const { action, check_suite: suite, repository, installation } = parsed.data;
  const passed = suite.conclusion === "success" || suite.conclusion === "neutral" || suite.conclusion === "skipped";
  if (action !== "completed" || !passed || suite.app?.id === ownAppId) return null;
  return { forge: "github", repo: repository.full_name, sha: suite.head_sha, installationId: installation?.id, deliveryId: delivery.id };
}
