import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import type { TagListing } from "../forge/roles.js";
import { placeOf, type Project } from "../map/graph.js";
import type { TagEvent, WatchPollJob } from "../queue/job-data.js";
import { deliveryJobId, watchJobId } from "../queue/job-ids.js";
import { watchNewTags, watchPolls } from "../metrics.js";
import { WatchState } from "../watch/watch-state.js";
import { isWatched, watchedUpstreams, watchIntervalOf } from "../watch/watched.js";
import type { WorkerDeps } from "./deps.js";

/** OPENCI_WATCH_INTERVAL_MS's default, for deps built without it (tests of other parts). */
export const DEFAULT_WATCH_INTERVAL_MS = 300_000;

export interface Watcher {
  /** Stops ticking; resolves once a tick under way has ended. */
  stop(): Promise<void>;
}

/** How often the watcher ticks: half the shortest interval allowed, within 100 ms and 5 s. */
export function watchTickMs(minWatchIntervalMs: number): number {
  return Math.min(5_000, Math.max(100, Math.floor(minWatchIntervalMs / 2)));
}

/**
 * Every worker process ticks (a timer, not a job: nothing sits in the queues while no upstream is
 * watched); each tick claims, atomically, the upstreams that are due, so whichever process ticks
 * first queues an upstream's poll and the others do not. A failed tick (Redis away) is logged once
 * and the next one tries again.
 */
export function startWatcher(deps: WorkerDeps, tickMs: number): Watcher {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let failing = false;
  const tick = () => {
    running = processWatchTick(deps, deps.log).then(() => {
      if (failing) deps.log.info("watch: ticking again");
      failing = false;
    }, (err: Error) => {
      if (!failing) deps.log.warn({ err: err.message }, "watch: cannot claim the upstreams due (is Redis reachable?); trying again at the next tick");
      failing = true;
    }).finally(() => {
      if (!stopped) timer = setTimeout(tick, tickMs);
    });
  };
  timer = setTimeout(tick, 0);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      // A tick waiting on a Redis that is gone is not waited for long: it queues nothing that matters.
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([running, new Promise((r) => (wait = setTimeout(r, 1_000)))]);
      clearTimeout(wait);
    },
  };
}

/**
 * One tick: claims the watched upstreams that are due and queues one poll each, under a job id per
 * upstream, so an upstream is never polled twice at once, whichever worker process ticks.
 */
export async function processWatchTick(deps: WorkerDeps, log: Logger): Promise<{ watched: number; polled: string[] }> {
  const map = deps.map();
  const interval = deps.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const watched = watchedUpstreams(map, deps.systems);
  const due = await new WatchState(deps.redis).claimDue(watched.map((p) => ({ id: p.id, intervalMs: watchIntervalOf(p, interval) })));
  if (due.length > 0) {
    await deps.queues.events.addBulk(due.map((upstream) => ({
      name: "watch-poll", data: { upstream } satisfies WatchPollJob,
      // Gone once done, so the next poll can take the id; no retry: the next poll is the retry.
      opts: { jobId: watchJobId(upstream), attempts: 1, removeOnComplete: true, removeOnFail: true },
    })));
    log.debug({ upstreams: due }, "watch: polls queued");
  }
  return { watched: watched.length, polled: due };
}

export type WatchPollResult =
  | { outcome: "gone" | "not_modified" | "error" }
  | { outcome: "baseline"; tags: number }
  | { outcome: "read"; enqueued: string[]; deleted: string[] };

/**
 * One look at a watched upstream's tags. The first look takes a baseline (the tags it had are
 * never triggered); later, a new tag, or a tag moved to another commit, is enqueued as a TagEvent
 * (each of several at once); a deleted tag is forgotten and triggers nothing. Nothing is written
 * to the upstream. A failure is logged once per distinct error and waits for the next poll; it
 * never stops the other upstreams.
 */
export async function processWatchPoll(job: WatchPollJob, deps: WorkerDeps, log: Logger): Promise<WatchPollResult> {
  const map = deps.map();
  const upstream = map.project(job.upstream);
  if (!upstream || !isWatched(upstream, map, deps.systems)) return { outcome: "gone" };
  const state = new WatchState(deps.redis);
  const place = placeOf(upstream.location);
  const before = await state.state(upstream.id);

  let listing: TagListing;
  try {
    const source = deps.systems.source(place);
    listing = source.watchTags
      ? await source.watchTags(place.repo, before.baselineAt ? before.etag : undefined)
      : { notModified: false, tags: await source.listTags(place.repo), etag: undefined };
  } catch (error) {
    const e = classifyHttpError(error, `reading the tags of ${place.repo}`);
    watchPolls.inc({ outcome: "error" });
    if (await state.failed(upstream.id, e.message)) {
      log.warn({ upstream: upstream.id, url: place.repo, err: e.message, hint: e.hint ?? "check that the address is right and the repository public" },
        "watch: cannot read this upstream's tags; it is polled again at its next interval (the others go on). Fix the map entry's address, or remove the entry");
    }
    return { outcome: "error" };
  }
  if (before.lastError) log.info({ upstream: upstream.id }, "watch: the upstream's tags can be read again");

  if (listing.notModified) {
    await state.unchanged(upstream.id);
    watchPolls.inc({ outcome: "not_modified" });
    return { outcome: "not_modified" };
  }
  if (!before.baselineAt) {
    await state.takeBaseline(upstream.id, listing.tags, listing.etag);
    watchPolls.inc({ outcome: "baseline" });
    log.info({ upstream: upstream.id, tags: listing.tags.length }, "watch: baseline taken; tags from now on are relayed");
    return { outcome: "baseline", tags: listing.tags.length };
  }
  const known = await state.tags(upstream.id);
  const changed = listing.tags.filter((t) => known.get(t.name) !== t.sha);
  const current = new Set(listing.tags.map((t) => t.name));
  const deleted = [...known.keys()].filter((name) => !current.has(name));
  // Enqueued before they are remembered: a crash in between enqueues them again, under the same ids.
  if (changed.length > 0) {
    await deps.queues.events.addBulk(changed.map((t) => {
      const event = tagEvent(upstream, t);
      return { name: "tag", data: event, opts: { jobId: deliveryJobId("watch", event.deliveryId) } };
    }));
    log.info({ upstream: upstream.id, tags: changed.map((t) => t.name) }, "watch: new or moved tags enqueued");
  }
  if (deleted.length > 0) log.info({ upstream: upstream.id, tags: deleted }, "watch: deleted tags forgotten (nothing is triggered for them)");
  await state.update(upstream.id, { changed, deleted, etag: listing.etag });
  watchPolls.inc({ outcome: "read" });
  watchNewTags.inc(changed.length);
  return { outcome: "read", enqueued: changed.map((t) => t.name), deleted };
}

function tagEvent(upstream: Project, tag: { name: string; sha: string }): TagEvent {
  const place = placeOf(upstream.location);
  return {
    forge: place.forge, ...(place.host ? { host: place.host } : {}), repo: place.repo, tag: tag.name, sha: tag.sha, source: "watch",
    // A tag moved to another commit is another release: the commit is part of the id.
    deliveryId: `watch-${upstream.id}-${tag.name}-${tag.sha}`, receivedAt: new Date().toISOString(),
  };
}
