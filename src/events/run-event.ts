import { SYSTEM_KINDS } from "../forge/kinds.js";
import { z } from "zod";
import type { CheckConclusion } from "../forge/run-state.js";

export const RUN_CONCLUSIONS = ["success", "failure", "cancelled", "timed_out", "neutral", "skipped", "action_required"] as const satisfies readonly CheckConclusion[];

/** A forge-neutral "a downstream pipeline run changed state" event. */
export const RunEvent = z.object({
  forge: z.enum(SYSTEM_KINDS),
  /** workflow_run: a GitHub Actions run; check_suite: CI that reports through checks (runId is "suite-<id>"); poll: read by the relay; pipeline_hook: a GitLab Pipeline Hook; notification: a Jenkins Notification plugin POST */
  source: z.enum(["workflow_run", "check_suite", "poll", "pipeline_hook", "notification"]).default("workflow_run"),
  /** the downstream repository the run belongs to */
  repo: z.string().min(1),
  /** GitLab: the instance the hook came from, when it is not GITLAB_URL's; Jenkins: the server's URL. Matched with where the triggered project runs */
  host: z.string().optional(),
  runId: z.string().min(1),
  /** The run's title as the forge shows it; the relay's run id in it is the fallback correlation. */
  title: z.string(),
  state: z.enum(["queued", "in_progress", "completed"]),
  conclusion: z.enum(RUN_CONCLUSIONS).optional(),
  webUrl: z.string(),
  startedAt: z.iso.datetime({ offset: true }).optional(),
  updatedAt: z.iso.datetime({ offset: true }).optional(),
  /** When the forge created the run (workflow_run `created_at`, a check suite's): a title match counts only for a run created after the trigger. */
  createdAt: z.iso.datetime({ offset: true }).optional(),
  /** The workflow that ran (GitHub: `.github/workflows/ci.yml`, and its numeric id) and the event that started it. */
  workflow: z.object({ path: z.string(), id: z.number().int().optional(), event: z.string() }).optional(),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().min(1),
});
export type RunEvent = z.infer<typeof RunEvent>;
