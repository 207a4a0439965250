import { UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import type { Dependant, Project } from "../map/graph.js";
import type { TagEvent, TriggerJob, UpstreamRef } from "../queue/job-data.js";
import { checkKey, triggerJobId } from "../queue/job-ids.js";
import { checkName, gateWaitingReport, queuedReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import type { WorkerDeps } from "./deps.js";
import { openGate } from "./gate.js";

export interface FanOutResult {
  upstreams: number;
  triggers: number;
  sha?: string;
}

/** A tag event → the commit it names → one trigger job (and one queued upstream check) per matching dependant. */
export async function fanOut(event: TagEvent, deps: WorkerDeps, log: Logger): Promise<FanOutResult> {
  const map = deps.map();
  const upstreams = event.forge === "github" ? map.projectsAt({ forge: "github", repo: event.repo }) : [];
  if (upstreams.length === 0) {
    log.info({ repo: event.repo, tag: event.tag }, "tag on a repository the map does not list");
    return { upstreams: 0, triggers: 0 };
  }
  const work = upstreams.flatMap((upstream) => actionable(upstream, map.dependantsFor(upstream.id, event.tag), deps, log));
  if (work.length === 0) {
    log.info({ repo: event.repo, tag: event.tag }, "tag matched no dependant");
    return { upstreams: upstreams.length, triggers: 0 };
  }

  const forge = deps.forges.forLocation({ forge: event.forge }, { installationId: event.installationId });
  let sha: string;
  try {
    sha = await forge.resolveTag(event.repo, event.tag, event.sha);
  } catch (error) {
    const e = classifyHttpError(error, `resolving tag ${event.tag} of ${event.repo}`);
    if (e.kind !== "config") throw e;
    log.error({ err: e, hint: e.hint }, "tag cannot be resolved: nothing triggered");
    throw new UnrecoverableError(e.message);
  }
  const enqueuedAt = new Date().toISOString();
  const jobs = work.map(({ upstream, project, gate }) => {
    const up: UpstreamRef = {
      projectId: upstream.id, forge: event.forge, repo: event.repo, installationId: event.installationId, tag: event.tag, sha,
    };
    const runId = triggerJobId({ upstreamId: upstream.id, tag: event.tag, sha, downstreamId: project.id });
    const data: TriggerJob = { runId, upstream: up, downstreamId: project.id, checkName: checkName(project.id), deliveryId: event.deliveryId, enqueuedAt, attempt: 0 };
    return { up, project, data, gate };
  });
  const now = jobs.filter((j) => j.gate === undefined);
  const gated = jobs.filter((j) => j.gate !== undefined);

  // Trigger first, decorate after: the dispatches are queued before any upstream check is written.
  await deps.queues.trigger.addBulk(now.map((j) => ({ name: "trigger", data: j.data, opts: { jobId: j.data.runId } })));
  for (const { up, project, data, gate } of jobs) {
    await publishCheck(
      deps,
      checkKey({ upstreamRepo: up.repo, sha, name: data.checkName }),
      { forge: up.forge, repo: up.repo, sha, installationId: up.installationId },
      gate === undefined ? queuedReport(up, project, data.runId) : gateWaitingReport(up, project, data.runId, gate),
    );
  }
  // Register first, then look: a gate check finishing in between is seen by one of the two paths.
  for (const { data, gate } of gated) await deps.gates.wait(event.repo, sha, gate!, data);
  for (const gate of new Set(gated.map((j) => j.gate!))) {
    const state = await forge.checkState(event.repo, sha, gate);
    if (state?.completed) await openGate(deps, { repo: event.repo, sha, name: gate, conclusion: state.conclusion ?? "neutral" }, log);
  }
  log.info({ repo: event.repo, tag: event.tag, sha, downstreams: now.map((j) => j.project.id), gated: gated.map((j) => j.project.id) }, "triggers enqueued");
  return { upstreams: upstreams.length, triggers: jobs.length, sha };
}

function actionable(upstream: Project, dependants: Dependant[], deps: WorkerDeps, log: Logger) {
  return dependants.flatMap(({ project, edge }) => {
    if (!deps.forges.supports(project.location)) {
      log.warn({ upstream: upstream.id, downstream: project.id, forge: project.location.forge }, "downstreams on this forge are not relayed yet: dependant not triggered");
      return [];
    }
    return [{ upstream, project, gate: edge.after_check }];
  });
}
