import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { ForgeError, classifyHttpError } from "../forge/errors.js";
import type { CommentIds, CommentMode, Reporter } from "../forge/roles.js";
import { refOf } from "../map/graph.js";
import { ReportJob } from "../queue/job-data.js";
import { withCheckLock, type HeldLock } from "../report/check-lock.js";
import type { CheckTarget, StoredCheck } from "../report/check-store.js";
import { commentMarker, failureComment } from "../report/comment-text.js";
import type { LoadedView } from "../report/commit-views.js";
import { rollupReport } from "../report/rollup.js";
import { pushJob, pushesJoin, type PushName } from "../report/settle.js";
import type { WorkerDeps } from "./deps.js";

/**
 * Pushes to the upstream forge, one writer per key at a time: a downstream's check ("sync"), the
 * commit's roll-up check ("rollup"), or its failure comment ("comment"), each from the latest
 * recorded state, and only when something changed since the last push.
 */
export async function processReport(job: Job, token: string | undefined, deps: WorkerDeps, log: Logger): Promise<string> {
  const { checkKey, version } = ReportJob.parse(job.data);
  try {
    return await push(job, token, checkKey, deps, log);
  } catch (error) {
    if (!(error instanceof UnrecoverableError) && !(error instanceof ForgeError && error.kind === "rate_limited")) await carryOver(job, checkKey, version, deps, log);
    throw error;
  }
}

/**
 * A push that joined later states (settle.ts) and fails for the last time hands the latest state
 * to a push of its own, with its own attempts: every state had a full set of attempts before pushes
 * joined, and one recorded while this push waited out its retries would otherwise have had only
 * what was left of them. Queued while this one is still active, it runs once this one has failed.
 */
async function carryOver(job: Job, checkKey: string, version: number | undefined, deps: WorkerDeps, log: Logger): Promise<void> {
  if (version === undefined || (job.attemptsMade ?? 0) + 1 < (job.opts?.attempts ?? 1) || !pushesJoin(job.name, deps.reportSettleMs)) return;
  const name = job.name as PushName;
  const latest = name === "sync" ? (await deps.checks.get(checkKey))?.version ?? 0 : await deps.views.version(name, checkKey);
  if (latest <= version) return;
  const next = pushJob(name, checkKey, latest, deps.reportSettleMs);
  await deps.queues.report.add(next.name, next.data, next.opts);
  log.warn({ push: name, checkKey, version: latest }, "upstream push failed for good: its latest state is queued to be written on its own");
}

async function push(job: Job, token: string | undefined, checkKey: string, deps: WorkerDeps, log: Logger): Promise<string> {
  const lockName = `${job.name}-${checkKey}`;
  const view = job.name === "rollup" || job.name === "comment" ? job.name : undefined;
  if (view) {
    return withCheckLock(deps.redis, lockName, job, token, () => failingClearly(view, log, async () => {
      const loaded = await deps.views.load(view, checkKey);
      if (!loaded || loaded.pushedVersion >= loaded.version) return "current";
      // Who may be shown is decided again at every push: a downstream turned private since leaves the view.
      const shown = { ...loaded, members: await shownMembers(deps, loaded.members) };
      // Nothing shown and nothing written yet: nothing to say (a view written before is rewritten without them).
      if (shown.members.length === 0 && shown.remote === undefined) return "nothing shown";
      const remote = await (view === "rollup" ? pushRollup : pushComment)(reporterAt(deps, shown.target), shown, deps);
      await deps.views.markPushed(view, checkKey, shown.version, remote);
      return remote ?? "nothing to say";
    }), deps.jobLockMs);
  }
  // A check: its lock and its state are read in one step, and the lock is given back with the write that marks the push.
  return withCheckLock(deps.redis, lockName, job, token, (lock: HeldLock<StoredCheck | undefined>) => failingClearly("sync", log, async () => {
    const stored = lock.read;
    if (!stored || stored.pushedVersion >= stored.version) return "current";
    if (stored.about && !(await deps.surface.shows(stored.about))) return "not shown";
    const remoteId = await reporterAt(deps, stored.target).reportStatus(stored.target, stored.report, stored.remoteId);
    await deps.checks.markPushed(checkKey, stored.version, remoteId, lock);
    lock.released();
    log.debug({ check: stored.report.name, status: stored.report.status, remoteId }, "upstream check updated");
    return remoteId;
  }), deps.jobLockMs, (lockKey, owner, lockMs) => deps.checks.claim(checkKey, lockKey, owner, lockMs));
}

/** An error only a person can fix (a refused write, a revoked app) fails the job once, unretried, with its hint. */
async function failingClearly(what: string, log: Logger, push: () => Promise<string>): Promise<string> {
  try {
    return await push();
  } catch (error) {
    const e = classifyHttpError(error, `updating the upstream ${what === "comment" ? "comment" : "check"}`);
    if (e.kind !== "config") throw e;
    log.error({ err: e, hint: e.hint }, "upstream report cannot be written");
    throw new UnrecoverableError(e.hint ? `${e.message}. ${e.hint}` : e.message);
  }
}

async function shownMembers(deps: WorkerDeps, members: StoredCheck[]): Promise<StoredCheck[]> {
  const about = members.flatMap((m) => (m.about ? [m.about] : []));
  const verdicts = await deps.surface.showsMany(about);
  let i = 0;
  return members.filter((m) => (m.about ? verdicts[i++]! : true));
}

function reporterAt(deps: WorkerDeps, target: CheckTarget): Reporter {
  return deps.systems.reporter(target);
}

async function pushRollup(reporter: Reporter, view: LoadedView): Promise<string> {
  return reporter.reportStatus(view.target, rollupReport(view.members.map((m) => m.report)), view.remote);
}

/**
 * Where the upstream wants its failure comment (its map entry's report.comment, default auto).
 * A pull request's head shows its downstreams as check runs on the pull request: no comment there.
 */
function commentMode(deps: WorkerDeps, target: CheckTarget): CommentMode | "none" {
  if (target.ref?.startsWith("pull/")) return "none";
  const upstream = deps.map().projectsAt(refOf(target))[0];
  return upstream?.report?.comment ?? "auto";
}

/** Remembered between pushes: the comment ids by place, and the text last written. */
interface PushedComment {
  ids: CommentIds;
  body: string;
}

async function pushComment(reporter: Reporter, view: LoadedView, deps: WorkerDeps): Promise<string | undefined> {
  const last: PushedComment = view.remote ? (JSON.parse(view.remote) as PushedComment) : { ids: {}, body: "" };
  const mode = commentMode(deps, view.target);
  const body = failureComment(view.target, view.members.map((m) => m.report), Object.keys(last.ids).length > 0);
  if (mode === "none" || body === undefined || body === last.body) return view.remote;
  const ids = await reporter.upsertComment(view.target, mode, commentMarker(view.target), body, last.ids);
  return JSON.stringify({ ids: { ...last.ids, ...ids }, body } satisfies PushedComment);
}
