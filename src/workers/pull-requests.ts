import type { Logger } from "pino";
import { runPlaceOf } from "../map/graph.js";
import type { PullHeadEvent } from "../events/pull-head-event.js";
import type { WorkerDeps } from "./deps.js";
import { enqueueTriggers, type Work } from "./enqueue-triggers.js";

/**
 * Cross-project testing of pull requests ("will my change break my dependants?"): once every
 * check suite on an upstream commit has passed, each open pull request with that head triggers the
 * dependants whose edge has `pull_requests`, reported back on the pull request's head as check
 * runs. Forks' pull requests only where the edge says `pull_requests: { forks: true }`.
 */
export async function processPullHead(event: PullHeadEvent, deps: WorkerDeps, log: Logger): Promise<{ triggered: string[] }> {
  const map = deps.map();
  const work: (Work & { forks: boolean })[] = [];
  for (const upstream of map.projectsAt({ forge: "github", repo: event.repo })) {
    for (const d of map.pullRequestDependants(upstream.id)) {
      // A private upstream's changes go only to dependants of the reviewed map.
      if (!deps.systems.plays(runPlaceOf(d.project).forge, "runner") || !(await deps.surface.mayTrigger(upstream, d.edge))) continue;
      work.push({ upstream, project: d.project, gate: d.edge.after_check, forks: typeof d.edge.pull_requests === "object" && d.edge.pull_requests.forks });
    }
  }
  if (work.length === 0) return { triggered: [] };

  const at = { forge: event.forge, repo: event.repo, installationId: event.installationId };
  const checks = await deps.systems.reporter(at).checksPassed(event.repo, event.sha);
  if (checks !== "passed") {
    log.debug({ repo: event.repo, sha: event.sha, checks }, "pull request head not ready: waiting for its other checks");
    return { triggered: [] };
  }
  const triggered: string[] = [];
  for (const pr of await deps.systems.source(at).openPullRequests(event.repo, event.sha)) {
    const allowed = work.filter((w) => !pr.fork || w.forks);
    if (allowed.length === 0) continue;
    const origin = { forge: event.forge, repo: event.repo, ref: `pull/${pr.number}`, installationId: event.installationId, deliveryId: event.deliveryId };
    for (const upstream of new Set(allowed.map((w) => w.upstream))) {
      await deps.history.release({ upstream, forge: event.forge, repo: event.repo, tag: origin.ref, sha: event.sha, source: "pull_request" });
    }
    const { now, gated } = await enqueueTriggers(deps, origin, event.sha, allowed, log);
    log.info({ repo: event.repo, pull: pr.number, fork: pr.fork, downstreams: now, gated }, "pull request triggers enqueued");
    triggered.push(...now, ...gated);
  }
  return { triggered };
}
