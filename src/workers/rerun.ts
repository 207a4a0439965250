import type { Logger } from "pino";
import type { RerunEvent } from "../events/rerun-event.js";
import { TriggerJob } from "../queue/job-data.js";
import { rerunJobId } from "../queue/job-ids.js";
import { queuedReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import { rerunTargets } from "../report/rerun-targets.js";
import type { WorkerDeps } from "./deps.js";

/**
 * Triggers downstreams again from the upstream's checks tab: a new relay run id and attempt, so the
 * new downstream run is correlated afresh and the old run's late results cannot overwrite the new.
 */
export async function processRerun(event: RerunEvent, deps: WorkerDeps, log: Logger): Promise<{ rerun: string[] }> {
  const { runIds: previous, nothing } = await rerunTargets(deps, event);
  if (nothing) log.warn({ repo: event.repo, sha: event.sha, reason: nothing.reason }, "nothing to re-run");
  const rerun: string[] = [];
  for (const runId of previous) {
    const record = await deps.records.get(runId);
    const trigger = record?.trigger ?? parse((await deps.queues.trigger.getJob(runId))?.data);
    // Only triggers of this very upstream commit: a check on one repository cannot re-run another's.
    if (!trigger || trigger.upstream.repo.toLowerCase() !== event.repo.toLowerCase() || trigger.upstream.sha !== event.sha) {
      log.warn({ runId }, "re-run asked for a trigger this commit does not have: ignored");
      continue;
    }
    const project = deps.map().project(trigger.downstreamId);
    if (!project) continue;
    const next: TriggerJob = {
      ...trigger, runId: rerunJobId(runId, event.deliveryId), attempt: trigger.attempt + 1,
      deliveryId: event.deliveryId, enqueuedAt: new Date().toISOString(),
      // Where the forge can run the same run again (GitLab: retry the pipeline), it does.
      retryOf: record?.result.runId,
      rerunOf: runId,
    };
    await deps.queues.trigger.add("trigger", next, { jobId: next.runId });
    const up = next.upstream;
    await publishCheck(deps, next, queuedReport(up, project, next.runId));
    rerun.push(project.id);
  }
  log.info({ repo: event.repo, sha: event.sha, scope: event.scope.kind, downstreams: rerun }, "re-run requested");
  return { rerun };
}

function parse(data: unknown): TriggerJob | undefined {
  const parsed = TriggerJob.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}
