import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { ForgeError, classifyHttpError } from "../forge/errors.js";
import type { Runner, TriggerResult, UpstreamContext } from "../forge/roles.js";
import { TriggerJob } from "../queue/job-data.js";
import { timeoutJobId } from "../queue/job-ids.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../map/duration.js";
import { dispatchedReport, refusedReport, triggerFailedReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import { runPlaceOf, type Project } from "../map/graph.js";
import type { WorkerDeps } from "./deps.js";
import { schedulePoll } from "./poll.js";
import { edgeFrom } from "./edge-from.js";
import { tagToTrigger, triggers } from "../metrics.js";

/**
 * Starts one downstream pipeline. The outcome is recorded in Redis before the job completes, and
 * checked before calling the forge, so a retried or re-added job never triggers twice.
 */
export async function processTrigger(job: Job, deps: WorkerDeps, log: Logger): Promise<TriggerResult | { refused: string }> {
  const data = TriggerJob.parse(job.data);
  const project = deps.map().project(data.downstreamId);

  let outcome: { refused: string } | { result: TriggerResult; project: Project };
  try {
    if (!project) {
      throw new ForgeError(`'${data.downstreamId}' is no longer in the dependency map`, "config");
    }
    const refusal = (await consent(deps, data)) ?? (await overQuota(deps, data, project));
    if (refusal) {
      outcome = { refused: refusal };
    } else {
      const recorded = await deps.records.get(data.runId);
      let result: TriggerResult;
      if (recorded) {
        result = recorded.result;
        log.info({ downstream: project.id }, "already triggered: not calling the forge again");
      } else {
        const runPlace = runPlaceOf(project);
        const runner = deps.systems.runner(runPlace);
        const context = {
          upstreamId: data.upstream.projectId, upstreamRepo: data.upstream.repo, tag: data.upstream.tag, sha: data.upstream.sha, runId: data.runId,
          ...(data.artifacts ? { artifacts: data.artifacts } : {}),
        };
        const earlier = await deps.records.intend(data.runId);
        result = (earlier ? await startedEarlier(runner, project, context, earlier, log) : undefined)
          ?? (data.retryOf !== undefined ? await retried(runner, project, data.retryOf, log) : undefined)
          ?? await runner.triggerPipeline(project, context);
        await deps.records.save({
          trigger: data, forge: runPlace.forge, downstreamRepo: runPlace.repo, result, triggeredAt: new Date().toISOString(),
        });
        log.info({ downstream: project.id, kind: result.kind, downstreamRunId: result.runId }, "downstream triggered");
        triggers.inc({ outcome: "triggered" });
        if (data.receivedAt && data.attempt === 0) tagToTrigger.observe((Date.now() - Date.parse(data.receivedAt)) / 1000);
      }
      outcome = { result, project };
    }
  } catch (error) {
    const e = classifyHttpError(error, `triggering ${data.downstreamId}`);
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    // A rate-limited trigger waits in the queue (workers/start.ts) and spends no attempt: never "failed" for it.
    if (e.kind === "rate_limited") throw e;
    if (e.kind !== "config" && !lastAttempt) {
      log.warn({ err: e, attempt: job.attemptsMade + 1 }, "trigger failed, will retry");
      throw e;
    }
    log.error({ err: e, hint: e.hint }, "trigger failed for good");
    triggers.inc({ outcome: "failed" });
    await deps.history.trigger(data, "failed", { reason: e.hint ? `${e.message}. ${e.hint}` : e.message });
    await publishCheck(deps, data, triggerFailedReport(data.upstream, project, data.downstreamId, data.runId, e.message, e.hint));
    throw new UnrecoverableError(e.hint ? `${e.message}. ${e.hint}` : e.message);
  }

  // What follows only records and decorates: its errors are retried, and never make a started pipeline "failed".
  if ("refused" in outcome) {
    log.warn({ downstream: data.downstreamId, upstream: data.upstream.projectId, chain: data.chain?.path }, `trigger refused: ${outcome.refused}`);
    await deps.history.trigger(data, "refused", { reason: outcome.refused });
    await publishCheck(deps, data, refusedReport(data.upstream, data.downstreamId, data.runId, outcome.refused));
    triggers.inc({ outcome: "refused" });
    return outcome;
  }
  const { result } = outcome;
  await deps.history.trigger(data, "triggered", { result });
  await publishCheck(deps, data, dispatchedReport(data.upstream, outcome.project, data.runId, result));
  const timeout = deps.map().edge(edgeFrom(data), outcome.project.id)?.timeout ?? DEFAULT_TIMEOUT;
  await deps.queues.trigger.add("timeout", { trigger: data, timeout }, { jobId: timeoutJobId(data.runId), delay: parseDuration(timeout) });
  if (result.runId !== undefined && deps.systems.pollsRuns(runPlaceOf(outcome.project).forge)) await schedulePoll(deps, data.runId, 1);
  return result;
}

const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * An earlier attempt called the forge and recorded nothing (killed mid-call, or the call failed
 * after the forge may have acted): the run it started, if the forge has one, so it is not started
 * twice. Where the forge cannot be asked (no API token for a trigger-token project), trigger anew.
 */
async function startedEarlier(runner: Runner, project: Project, context: UpstreamContext, since: Date, log: Logger): Promise<TriggerResult | undefined> {
  try {
    // Looked for from a while before the earlier attempt began: the forge's clock is not ours.
    const found = await runner.findTriggered(project, context, new Date(since.getTime() - CLOCK_SKEW_MS));
    if (found) log.warn({ downstream: project.id, downstreamRunId: found.runId, since }, "an earlier attempt had started the downstream run: not triggering again");
    return found;
  } catch (error) {
    const e = classifyHttpError(error, `looking for the run an earlier attempt started in ${project.id}`);
    if (e.kind !== "config") throw e;
    log.warn({ err: e, hint: e.hint }, "cannot tell whether an earlier attempt started the downstream run: triggering it");
    return undefined;
  }
}

/** A trigger along an edge only its downstream declared, past its owner's quota for the day: why not, or undefined. */
async function overQuota(deps: WorkerDeps, data: TriggerJob, project: Project): Promise<string | undefined> {
  if (!deps.map().edge(edgeFrom(data), data.downstreamId)?.declared) return undefined;
  if (await deps.declaredQuota.take(project, data.runId)) return undefined;
  return `'${data.downstreamId}' only declared its dependency, and its owner's self-declared triggers for today are spent (OPENCI_MAX_DECLARED_TRIGGERS_PER_OWNER_PER_DAY).`;
}

/** A re-run where the forge retries the run in place; undefined (trigger anew) where it cannot or will not. */
async function retried(runner: Runner, project: Project, runId: string, log: Logger): Promise<TriggerResult | undefined> {
  try {
    const result = await runner.retryRun(project, runId);
    if (result) log.info({ downstream: project.id, downstreamRunId: runId }, "downstream run retried in place");
    return result;
  } catch (error) {
    const e = classifyHttpError(error, `retrying run ${runId} of ${project.id}`);
    if (e.kind !== "config") throw e;
    log.warn({ err: e }, "the run cannot be retried: triggering a new one");
    return undefined;
  }
}

/**
 * Only what the merged map allows runs, whatever queued it: the edge from the upstream (or, in a
 * cascade, from the project before in the chain, marked cascade) must still be there. Returns
 * why not, or undefined.
 */
async function consent(deps: WorkerDeps, data: TriggerJob): Promise<string | undefined> {
  const map = deps.map();
  const from = edgeFrom(data);
  const edge = map.edge(from, data.downstreamId);
  if (!edge) return `'${data.downstreamId}' does not depend on '${from}' in the dependency map (any more).`;
  const source = map.project(from);
  const tagging = map.project(data.upstream.projectId);
  if (!source || !tagging) return `'${data.upstream.projectId}' or '${from}' is no longer in the dependency map.`;
  if (!(await deps.surface.mayTrigger(source, edge, tagging))) {
    return `'${data.downstreamId}' only declared its dependency on '${from}', which is private (now): a private project triggers only edges of the reviewed map.`;
  }
  if (data.chain) return edge.cascade ? undefined : `'${data.downstreamId}' no longer cascades from '${from}' in the dependency map.`;
  const ref = data.upstream.tag;
  if (ref.startsWith("pull/")) return edge.on.has("pull_request") ? undefined : `'${data.downstreamId}' no longer tests pull requests of '${from}' in the dependency map.`;
  if (ref.startsWith("refs/changes/")) return edge.on.has("change") ? undefined : `'${data.downstreamId}' no longer tests changes of '${from}' in the dependency map.`;
  const wanted = map.dependantsFor(from, ref, "tag").some((d) => d.project.id === data.downstreamId)
    || map.dependantsFor(from, ref, "release").some((d) => d.project.id === data.downstreamId);
  return wanted ? undefined : `the edge from '${from}' to '${data.downstreamId}' no longer matches ${ref} in the dependency map.`;
}
