import type { Logger } from "pino";
import type { ChangeEvent } from "../events/change-event.js";
import type { RerunEvent } from "../events/rerun-event.js";
import { runPlaceOf, type Project } from "../map/graph.js";
import { checkKey } from "../queue/job-ids.js";
import { checkName } from "../report/check-text.js";
import type { WorkerDeps } from "./deps.js";
import { enqueueTriggers, type Work } from "./enqueue-triggers.js";
import { processRerun } from "./rerun.js";

/**
 * A Gerrit change's patch set, tested third-party-CI style: the dependants whose edge says
 * `on: [change]` run on the patch set's ref (refs/changes/NN/NNNN/P, their OPENCI_TAG) and commit
 * (OPENCI_SHA); the result goes back as one review message on the patch set (src/forge/gerrit-reporter.ts).
 *
 * A new patch set triggers each dependant once (the trigger's id is its ref and commit). A `recheck`
 * runs the patch set's finished downstreams again as a re-run does (src/workers/rerun.ts: a new relay
 * run id, the next generation of its check, so the review message is written anew); one not triggered
 * yet for the patch set (the stream was down when it was uploaded) is triggered; one still running is left.
 */
export async function processChange(event: ChangeEvent, deps: WorkerDeps, log: Logger): Promise<{ triggered: string[]; rerun: string[] }> {
  const map = deps.map();
  const work: Work[] = [];
  for (const upstream of map.projectsAt({ forge: "gerrit", url: event.host, project: event.repo })) {
    for (const d of map.changeDependants(upstream.id)) {
      if (!deps.systems.plays(runPlaceOf(d.project).forge, "runner") || !(await deps.surface.mayTrigger(upstream, d.edge))) continue;
      work.push({ upstream, project: d.project, gate: d.edge.after_check });
    }
  }
  if (work.length === 0) return { triggered: [], rerun: [] };

  const place = { forge: "gerrit" as const, host: event.host, repo: event.repo };
  const fresh: Work[] = [];
  const again: string[] = [];
  if (event.recheck) {
    for (const w of work) {
      const stored = await deps.checks.get(checkKey({ upstream: place, sha: event.revision, name: checkName(w.project.id) }));
      if (!stored) fresh.push(w);
      else if (stored.report.status === "completed") again.push(stored.report.externalId);
      else log.info({ change: event.change, patchSet: event.patchSet, downstream: w.project.id }, "recheck: this downstream is still running on the patch set; left to finish");
    }
  } else fresh.push(...work);

  const triggered: string[] = [];
  if (fresh.length > 0) {
    for (const upstream of new Set(fresh.map((w) => w.upstream))) await release(deps, upstream, event);
    const origin = { ...place, ref: event.ref, deliveryId: event.deliveryId, receivedAt: event.receivedAt };
    const { now, gated } = await enqueueTriggers(deps, origin, event.revision, fresh, log);
    triggered.push(...now, ...gated);
  }
  const rerun: string[] = [];
  for (const relayRunId of again) {
    const asked: RerunEvent = { ...place, sha: event.revision, scope: { kind: "one", relayRunId }, deliveryId: event.deliveryId };
    rerun.push(...(await processRerun(asked, deps, log)).rerun);
  }
  log.info({ repo: event.repo, change: event.change, patchSet: event.patchSet, recheck: event.recheck, triggered, rerun }, "gerrit change: downstreams triggered");
  return { triggered, rerun };
}

/** The patch set in the history, as a pull request's head is: what its downstream runs follow. */
async function release(deps: WorkerDeps, upstream: Project, event: ChangeEvent): Promise<void> {
  // A change under review (a patch set), whose artifacts no registry publishes.
  await deps.history.release({ upstream, forge: "gerrit", host: event.host, repo: event.repo, tag: event.ref, sha: event.revision, source: "change" });
}
