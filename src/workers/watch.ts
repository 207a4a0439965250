import type { Logger } from "pino";
import type { SystemKind } from "../forge/registry.js";
import type { TagListing } from "../forge/roles.js";
import { placeOf } from "../map/graph.js";
import type { WatchBatchJob, WatchPollJob } from "../queue/job-data.js";
import { watchBatchJobId, watchJobId } from "../queue/job-ids.js";
import { WatchState } from "../watch/watch-state.js";
import { isWatched, watchedUpstreams, watchIntervalOf } from "../watch/watched.js";
import type { WorkerDeps } from "./deps.js";
import { applyListing, recordFailure, type WatchPollResult } from "./watch-listing.js";

/** OPENCI_WATCH_INTERVAL_MS's default, for deps built without it (tests of other parts). */
export const DEFAULT_WATCH_INTERVAL_MS = 300_000;

/** How far ahead (a fraction of its interval) an upstream may be polled early to fill a batch. */
export const EARLY_FILL = 0.25;

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
 * One tick: claims the watched upstreams that are due and queues their polls: one job per upstream
 * under a job id of its own (never two polls of an upstream at once, whichever worker process
 * ticks), except on a system that reads many upstreams at once (GitHub's GraphQL): there one
 * `watch-batch` job per tick takes all of its due upstreams.
 */
export async function processWatchTick(deps: WorkerDeps, log: Logger): Promise<{ watched: number; polled: string[] }> {
  const map = deps.map();
  const interval = deps.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const watched = watchedUpstreams(map, deps.systems);
  const state = new WatchState(deps.redis);
  const schedule = watched.map((p) => ({ id: p.id, intervalMs: watchIntervalOf(p, interval) }));
  const due = await state.claimDue(schedule);
  if (due.length === 0) return { watched: watched.length, polled: due };
  const batches = new Map<SystemKind, string[]>();
  const batched = new Map<SystemKind, boolean>();
  const single: string[] = [];
  for (const id of due) {
    const kind = map.project(id)?.location.forge;
    if (kind !== undefined && !batched.has(kind)) batched.set(kind, deps.systems.batchSource(kind) !== undefined);
    if (kind === undefined || !batched.get(kind)) single.push(id);
    else if (batches.has(kind)) batches.get(kind)!.push(id);
    else batches.set(kind, [id]);
  }
  // A batch whose last request would go out part empty takes upstreams of its system due soon
  // (within a quarter of their interval): polled a little early, in a request sent anyway. Without
  // it, N upstreams spread over an interval of T ticks cost about T requests, not N ÷ 50.
  for (const [kind, ids] of batches) {
    const size = deps.systems.batchSource(kind)!.batchSize;
    const room = (size - (ids.length % size)) % size;
    const taken = new Set(due);
    const candidates = schedule.filter((w) => !taken.has(w.id) && map.project(w.id)?.location.forge === kind);
    const early = await state.claimEarly(candidates, room, EARLY_FILL);
    ids.push(...early);
    due.push(...early);
  }
  // Gone once done, so the next poll can take the id; no retry: the next poll is the retry.
  const once = { attempts: 1, removeOnComplete: true, removeOnFail: true };
  await deps.queues.events.addBulk([
    ...single.map((upstream) => ({ name: "watch-poll", data: { upstream } satisfies WatchPollJob, opts: { jobId: watchJobId(upstream), ...once } })),
    ...[...batches].map(([forge, upstreams]) => ({
      name: "watch-batch", data: { forge, upstreams } satisfies WatchBatchJob, opts: { jobId: watchBatchJobId(forge, upstreams), ...once },
    })),
  ]);
  log.debug({ upstreams: single, batches: Object.fromEntries(batches) }, "watch: polls queued");
  return { watched: watched.length, polled: due };
}

/**
 * One look at a watched upstream's tags, with the ETag of the last answer (see applyListing for what
 * it means). Nothing is written to the upstream. A failure is logged once per distinct error and
 * waits for the next poll; it never stops the other upstreams.
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
    return recordFailure(upstream, error, state, log);
  }
  return applyListing(upstream, before, listing, state, deps, log);
}
