import type { Systems } from "../forge/registry.js";
import type { StatusReport } from "../forge/roles.js";
import { checkKey as checkKeyOf } from "../queue/job-ids.js";
import type { TriggerJob } from "../queue/job-data.js";
import type { Queues } from "../queue/queues.js";
import type { UpstreamSurface } from "../trust/upstream-surface.js";
import { targetOf, type CheckStore, type CheckTarget } from "./check-store.js";
import { CommitViews } from "./commit-views.js";
import { pushJob } from "./settle.js";

export interface PublishDeps {
  checks: CheckStore;
  queues: Queues;
  views: CommitViews;
  /** who may be shown on an upstream's commit (private downstreams, declared edges) */
  surface: Pick<UpstreamSurface, "showsMany">;
  /** which upstream places show results (their system plays `reporter` and they are not only watched); absent: every one does */
  systems?: Pick<Systems, "showsResults">;
  /**
   * OPENCI_REPORT_SETTLE_MS: how long a new state waits before it is written to the forge, so that
   * states following each other quickly (queued, then dispatched) are written once, as the latest.
   * 0 or absent: each state is queued for writing at once, as it comes.
   */
  reportSettleMs?: number | undefined;
}

/** One downstream's check on its upstream commit: which trigger, and what to show. */
export interface CheckUpdate {
  trigger: Pick<TriggerJob, "upstream" | "downstreamId" | "chain" | "checkName" | "attempt">;
  report: StatusReport;
}

/**
 * Several checks at once (a fan-out: up to thousands): every desired state is recorded, and every
 * check enrolled in its commit's views, before any push is queued, so the roll-up never counts a
 * commit's downstreams before all of them are there. Redis calls go out together (one round of
 * state updates, one addBulk of pushes) and each commit's views are queued once, not once a check.
 * A downstream the upstream's commit may not show (see UpstreamSurface) keeps its state here (its
 * timeout, polling and re-runs read it) but is never enrolled in the commit's views nor pushed:
 * nothing about it is written there. Neither is anything written to an upstream whose system shows
 * no results (a git host), nor to one the map says is only watched (`watch:`: a GitHub repository
 * without the app, a GitLab project without a webhook): its downstreams' state is kept here, for
 * the history, the dashboard and the API. Returns each check's new version (0: nothing new).
 */
export async function publishChecks(deps: PublishDeps, updates: CheckUpdate[]): Promise<number[]> {
  const reports = (u: CheckUpdate) => deps.systems?.showsResults(u.trigger.upstream) ?? true;
  const shown = (await deps.surface.showsMany(updates.map((u) => u.trigger))).map((ok, n) => ok && reports(updates[n]!));
  const items = updates.map(({ trigger, report }) => ({
    checkKey: checkKeyOf({ upstream: trigger.upstream, sha: trigger.upstream.sha, name: trigger.checkName }),
    target: targetOf(trigger.upstream), report, generation: trigger.attempt, about: trigger,
  }));
  const versions = await Promise.all(items.map((i) => deps.checks.advance(i.checkKey, i.target, i.report, i.generation, i.about)));
  const commits = new Map<string, { target: CheckTarget; keys: string[]; changed: boolean }>();
  for (const [n, i] of items.entries()) {
    // A check shown before (enrolled) and hidden now: its commit's views are pushed again, without it.
    const leaving = !shown[n] && versions[n] !== 0 && (await deps.views.isMember(i.target, i.checkKey));
    if (!shown[n] && !leaving) continue;
    const commit = CommitViews.keyFor(i.target);
    const entry = commits.get(commit) ?? { target: i.target, keys: [], changed: false };
    if (shown[n]) entry.keys.push(i.checkKey);
    entry.changed ||= versions[n] !== 0;
    commits.set(commit, entry);
  }
  for (const { target, keys } of commits.values()) await deps.views.enroll(target, keys);
  const pushes = items.flatMap((i, n) => versions[n] === 0 || !shown[n] ? [] : [pushJob("sync", i.checkKey, versions[n]!, deps.reportSettleMs)]);
  if (pushes.length > 0) await deps.queues.report.addBulk(pushes);
  for (const { target, changed } of commits.values()) if (changed) await deps.views.touch(deps.queues, target, deps.reportSettleMs);
  return versions;
}

/**
 * Records a new desired state for one downstream's upstream check, queues its push to the forge,
 * and queues the commit's views (roll-up, failure comment): a fan-out of one. A re-run (the
 * trigger's attempt) starts the check over. Returns false when a later state was already recorded.
 */
export async function publishCheck(deps: PublishDeps, trigger: CheckUpdate["trigger"], report: StatusReport): Promise<boolean> {
  const [version] = await publishChecks(deps, [{ trigger, report }]);
  return version !== 0;
}

