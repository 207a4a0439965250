import { z } from "zod";
import { GITHUB_REPO } from "../map/places.js";
import { RERUN_FAILED } from "../report/rollup.js";
import type { CheckEvent } from "./check-event.js";
import type { RerunEvent } from "./rerun-event.js";
import { CONCLUSION_FROM_GITHUB_RUN } from "./github-run.js";
import type { Delivery } from "./github.js";
import { parsePayload } from "./parse-payload.js";

const CheckRunPayload = z.object({
  action: z.string(),
  check_run: z.object({
    name: z.string().min(1).max(255),
    head_sha: z.string().regex(/^[0-9a-f]{40}$/),
    status: z.string(),
    conclusion: z.enum(Object.keys(CONCLUSION_FROM_GITHUB_RUN) as [keyof typeof CONCLUSION_FROM_GITHUB_RUN]).nullable(),
  }),
  repository: z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name") }),
});

/** `check_run.completed` of another app's check → CheckEvent; the relay's own checks ("openci…") → null. */
export function normaliseGithubCheckRun(delivery: Delivery): CheckEvent | null {
  if (delivery.name !== "check_run") return null;
  const { action, check_run: run, repository } = parsePayload(CheckRunPayload, delivery.payload, "check_run");
  if (action !== "completed" || run.name === "openci" || run.name.startsWith("openci: ")) return null;
  return {
    forge: "github",
    repo: repository.full_name,
    sha: run.head_sha,
    name: run.name,
    conclusion: CONCLUSION_FROM_GITHUB_RUN[run.conclusion ?? "neutral"],
    deliveryId: delivery.id,
  };
}

const RerunPayload = z.object({
  action: z.string(),
  check_run: z.object({ name: z.string(), head_sha: z.string().regex(/^[0-9a-f]{40}$/), external_id: z.string().nullable().optional() }),
  requested_action: z.object({ identifier: z.string() }).optional(),
  repository: z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name") }),
  installation: z.object({ id: z.number().int().positive() }).optional(),
});

/**
 * "Re-run" on one of the relay's downstream checks (check_run.rerequested), or the roll-up's
 * "Re-run failed" button (check_run.requested_action) → RerunEvent; anything else → null.
 */
export function normaliseGithubRerun(delivery: Delivery): RerunEvent | null {
  if (delivery.name !== "check_run") return null;
  const parsed = RerunPayload.safeParse(delivery.payload);
  if (!parsed.success) return null;
  const { action, check_run: run, requested_action, repository, installation } = parsed.data;
  const base = { forge: "github" as const, repo: repository.full_name, sha: run.head_sha, installationId: installation?.id, deliveryId: delivery.id };
  if (action === "rerequested" && run.name.startsWith("openci: ") && /^trigger-[0-9a-f]{32}$/.test(run.external_id ?? "")) {
    return { ...base, scope: { kind: "one", relayRunId: run.external_id! } };
  }
  if (action === "requested_action" && run.name === "openci" && requested_action?.identifier === RERUN_FAILED.identifier) {
    return { ...base, scope: { kind: "failed" } };
  }
  return null;
}
