import type { Logger } from "pino";
import { placeOf, repoOf } from "../map/graph.js";
import type { TagEvent } from "../queue/job-data.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { WorkerDeps } from "./deps.js";
import { redeliverFailed } from "../forge/github-redeliveries.js";
import { isWatched } from "../watch/watched.js";

/** Tags older than this many of a project's latest are left alone (the listing's window). */
const WINDOW = 100;

/**
 * The periodic reconciler (a repeatable job): asks GitHub to redeliver the app's failed deliveries
 *, and lists each mapped upstream's tags and enqueues the
 * ones the relay has not seen, as if their delivery had arrived. That covers the time the relay was
 * down, deliveries the forge gave up on, and pushes of more than three tags at once (for which
 * GitHub and GitLab send no tag events). The first look at a project only takes a baseline.
 * Deduplication (delivery ids, trigger ids) keeps this from triggering anything twice.
 */
export async function processReconcile(deps: WorkerDeps, log: Logger): Promise<{ projects: number; enqueued: string[]; redelivered: string[] }> {
  // First the deliveries GitHub has and the relay did not take; then the tags no delivery announced.
  const redelivered = deps.githubApps
    ? await redeliverFailed(deps.githubApps, deps.redis, log).catch((err: Error) => {
      log.warn({ err: err.message }, "reconcile: cannot list the app's failed deliveries");
      return [];
    })
    : [];
  const map = deps.map();
  // Watched upstreams (a git host, a `watch:` entry) are the watcher's (watch.ts): polled at their own interval.
  const upstreams = map.projects().filter((p) => map.allDependants(p.id).length > 0 && deps.systems.plays(p.location.forge, "source") && !isWatched(p, map, deps.systems));
  const enqueued: string[] = [];
  for (const upstream of upstreams) {
    const repo = repoOf(upstream);
    let tags: { name: string; sha: string }[];
    try {
      tags = (await deps.systems.source(placeOf(upstream.location)).listTags(repo)).slice(0, WINDOW);
    } catch (err) {
      log.warn({ upstream: upstream.id, repo, err: (err as Error).message }, "reconcile: cannot list the tags (is the app installed there?)");
      continue;
    }
    if (await deps.seen.takeBaseline(upstream.id)) {
      await deps.seen.mark(upstream.id, tags.map((t) => t.name));
      log.info({ upstream: upstream.id, tags: tags.length }, "reconcile: baseline taken; tags from now on are relayed even without a delivery");
      continue;
    }
    const missed = await deps.seen.unseen(upstream.id, tags.map((t) => t.name));
    for (const name of missed) {
      const tag = tags.find((t) => t.name === name)!;
      const event: TagEvent = {
        forge: upstream.location.forge, ...(placeOf(upstream.location).host ? { host: placeOf(upstream.location).host } : {}),
        repo, tag: name, sha: tag.sha, source: "reconcile", deliveryId: `reconcile-${upstream.id}-${name}-${tag.sha}`, receivedAt: new Date().toISOString(),
      };
      await deps.queues.events.add("tag", event, { jobId: deliveryJobId("reconcile", event.deliveryId) });
      enqueued.push(`${upstream.id}@${name}`);
    }
    await deps.seen.mark(upstream.id, missed);
    if (missed.length > 0) log.warn({ upstream: upstream.id, tags: missed }, "reconcile: tags that no delivery announced were enqueued");
  }
  return { projects: upstreams.length, enqueued, redelivered };
}
