import type { StatusReport } from "../forge/types.js";
import { reportJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget } from "./check-store.js";

/** Records a new desired state for an upstream check and queues its push to the forge. */
export async function publishCheck(
  deps: { checks: CheckStore; queues: Queues },
  checkKey: string,
  target: CheckTarget,
  report: StatusReport,
): Promise<boolean> {
  const version = await deps.checks.advance(checkKey, target, report);
  if (version === 0) return false;
  await deps.queues.report.add("sync", { checkKey }, { jobId: reportJobId(checkKey, version) });
  return true;
}
