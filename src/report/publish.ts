import type { StatusReport } from "../forge/types.js";
import { reportJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget } from "./check-store.js";
import { CommitViews } from "./commit-views.js";

/**
 * Several checks at once (a fan-out: up to thousands): every desired state is recorded, and every
 * check enrolled in its commit's views, before any push is queued, so the roll-up never counts a
 * commit's downstreams before all of them are there. Redis calls go out together (one round of
 * state updates, one addBulk of pushes) and each commit's views are queued once, not once a check.
 */
export async function publishChecks(
  deps: { checks: CheckStore; queues: Queues; views: CommitViews },
  items: { checkKey: string; target: CheckTarget; report: StatusReport; generation?: number }[],
): Promise<number[]> {
  const versions = await Promise.all(items.map((i) => deps.checks.advance(i.checkKey, i.target, i.report, i.generation ?? 0)));
  const commits = new Map<string, { target: CheckTarget; keys: string[]; changed: boolean }>();
  for (const [n, i] of items.entries()) {
    const commit = CommitViews.keyFor(i.target);
    const entry = commits.get(commit) ?? { target: i.target, keys: [], changed: false };
    entry.keys.push(i.checkKey);
    entry.changed ||= versions[n] !== 0;
    commits.set(commit, entry);
  }
  for (const { target, keys } of commits.values()) await deps.views.enroll(target, keys);
  const pushes = items.flatMap((i, n) => versions[n] === 0 ? [] : [{ name: "sync", data: { checkKey: i.checkKey }, opts: { jobId: reportJobId(i.checkKey, versions[n]!) } }]);
  if (pushes.length > 0) await deps.queues.report.addBulk(pushes);
  for (const { target, changed } of commits.values()) if (changed) await deps.views.touch(deps.queues, target);
  return versions;
}

/**
 * Records a new desired state for one downstream's upstream check, queues its push to the forge,
 * and queues the commit's views (roll-up, failure comment): a fan-out of one. Returns false when a later state was already recorded.
 */
export async function publishCheck(
  deps: { checks: CheckStore; queues: Queues; views: CommitViews },
  checkKey: string,
  target: CheckTarget,
  report: StatusReport,
  /** the trigger's attempt: a re-run starts the check over */
  generation = 0,
): Promise<boolean> {
  const [version] = await publishChecks(deps, [{ checkKey, target, report, generation }]);
  return version !== 0;
}
