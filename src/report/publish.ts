import type { StatusReport } from "../forge/types.js";
import { reportJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget } from "./check-store.js";
import type { CommitViews } from "./commit-views.js";

/**
 * Several checks of one commit at once: every desired state is recorded before any push or view
 * is queued, so the roll-up never counts a commit's downstreams before all of them are there.
 */
export async function publishChecks(
  deps: { checks: CheckStore; queues: Queues; views: CommitViews },
  items: { checkKey: string; target: CheckTarget; report: StatusReport; generation?: number }[],
): Promise<void> {
  const versions = [];
  for (const i of items) versions.push(await deps.checks.advance(i.checkKey, i.target, i.report, i.generation ?? 0));
  for (const i of items) await deps.views.enroll(i.target, [i.checkKey]);
  for (const [n, i] of items.entries()) {
    if (versions[n] === 0) continue;
    await deps.queues.report.add("sync", { checkKey: i.checkKey }, { jobId: reportJobId(i.checkKey, versions[n]!) });
    await deps.views.touch(deps.queues, i.target, i.checkKey);
  }
}

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
