import type { StatusReport } from "../forge/types.js";
import { reportJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget } from "./check-store.js";
import type { CommitViews } from "./commit-views.js";

/**
 * Records a new desired state for one downstream's upstream check, queues its push to the forge,
 * and queues the commit's views (roll-up, failure comment). Returns false when a later state was already recorded.
 */
export async function publishCheck(
  deps: { checks: CheckStore; queues: Queues; views: CommitViews },
  checkKey: string,
  target: CheckTarget,
  report: StatusReport,
  /** the trigger's attempt: a re-run starts the check over */
  generation = 0,
): Promise<boolean> {
  const version = await deps.checks.advance(checkKey, target, report, generation);
  if (version === 0) return false;
  await deps.queues.report.add("sync", { checkKey }, { jobId: reportJobId(checkKey, version) });
  await deps.views.touch(deps.queues, target, checkKey);
  return true;
}
