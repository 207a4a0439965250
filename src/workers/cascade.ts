import type { Logger } from "pino";
import { isUnderReview } from "../events/change-event.js";
import { runPlaceOf } from "../map/graph.js";
import type { TriggerJob } from "../queue/job-data.js";
import type { WorkerDeps } from "./deps.js";
import { enqueueTriggers, type Work } from "./enqueue-triggers.js";
import { admitToChain } from "./chain-budget.js";

/**
 * A downstream run passed: its own dependants whose edge says `cascade: true` are triggered with
 * the context of the upstream that tagged (its commit shows them too). One chain id through the
 * whole chain, at most the map's hop limit from that upstream, never the same project twice.
 * Trigger ids stay (upstream, tag, commit, downstream), so a project reached twice runs once; and
 * OPENCI_MAX_TRIGGERS_PER_CHAIN counts it once (chain-budget.ts), however often it is reached.
 */
export async function cascadeFrom(trigger: TriggerJob, deps: WorkerDeps, log: Logger): Promise<string[]> {
  const map = deps.map();
  const upstream = map.project(trigger.upstream.projectId);
  // A pull request's head or a Gerrit change (code under review) is tested only by dependants that asked for it.
  if (!upstream || isUnderReview(trigger.upstream.tag)) return [];
  const path = trigger.chain?.path ?? [trigger.upstream.projectId, trigger.downstreamId];
  const chainId = trigger.chain?.id ?? trigger.runId;
  let work: Work[] = [];
  for (const { project, edge } of map.allDependants(trigger.downstreamId)) {
    if (!edge.cascade) continue;
    if (path.includes(project.id)) {
      log.info({ chain: chainId, path, downstream: project.id }, "cascade stops: the project is already in this chain");
    } else if (path.length > map.cascadeHopLimit) {
      log.warn({ chain: chainId, path, downstream: project.id, limit: map.cascadeHopLimit }, "cascade stops at the hop limit");
    } else if (!deps.systems.plays(runPlaceOf(project).forge, "runner")) {
      log.warn({ chain: chainId, downstream: project.id, system: runPlaceOf(project).forge }, "nothing runs pipelines on this system for the relay: not cascaded");
    } else if (!(await deps.surface.mayTrigger(map.project(trigger.downstreamId) ?? upstream, edge, upstream))) {
      log.info({ chain: chainId, downstream: project.id }, "a private project cascades only along edges of the reviewed map: self-declared dependant not triggered");
    } else {
      work.push({ upstream, project, gate: undefined, chain: { id: chainId, path: [...path, project.id], from: trigger.runId } });
    }
  }
  if (work.length === 0) return [];
  const cap = deps.limits?.perChain;
  if (cap !== undefined) {
    // The chain's distinct downstream projects so far, across all its branches and workers.
    const admitted = await admitToChain(deps.redis, chainId, cap, work.map((w) => w.project.id));
    const leftOut = work.filter((w) => !admitted.has(w.project.id));
    if (leftOut.length > 0) {
      log.error({ chain: chainId, cap, left_out: leftOut.map((w) => w.project.id) }, "cascade stops: the chain reached OPENCI_MAX_TRIGGERS_PER_CHAIN");
      work = work.filter((w) => admitted.has(w.project.id));
      if (work.length === 0) return [];
    }
  }
  const up = trigger.upstream;
  const origin = { forge: up.forge, host: up.host, repo: up.repo, ref: up.tag, installationId: up.installationId, deliveryId: trigger.deliveryId };
  const { now } = await enqueueTriggers(deps, origin, up.sha, work, log);
  log.info({ chain: chainId, from: trigger.downstreamId, downstreams: now }, "cascade: triggers enqueued");
  return now;
}
