import { z } from "zod";
import type { CheckEvent } from "./check-event.js";
import { CONCLUSION_FROM_GITHUB_RUN } from "./github-run.js";
import { PayloadError, type Delivery } from "./github.js";

const CheckRunPayload = z.object({
  action: z.string(),
  check_run: z.object({
    name: z.string().min(1).max(255),
    head_sha: z.string().regex(/^[0-9a-f]{40}$/),
    status: z.string(),
    conclusion: z.enum(Object.keys(CONCLUSION_FROM_GITHUB_RUN) as [keyof typeof CONCLUSION_FROM_GITHUB_RUN]).nullable(),
  }),
  repository: z.object({ full_name: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/) }),
});

/** `check_run.completed` of another app's check → CheckEvent; the relay's own checks ("openci…") → null. */
export function normaliseGithubCheckRun(delivery: Delivery): CheckEvent | null {
  if (delivery.name !== "check_run") return null;
  const parsed = CheckRunPayload.safeParse(delivery.payload);
  if (!parsed.success) {
    throw new PayloadError(`check_run payload rejected: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  const { action, check_run: run, repository } = parsed.data;
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
