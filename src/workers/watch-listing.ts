import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import type { TagListing } from "../forge/roles.js";
import { placeOf, type Project } from "../map/graph.js";
import type { TagEvent } from "../queue/job-data.js";
import { deliveryJobId, watchTagDeliveryId } from "../queue/job-ids.js";
import { watchNewTags, watchPolls } from "../metrics.js";
import type { WatchedState, WatchState } from "../watch/watch-state.js";
import type { WorkerDeps } from "./deps.js";

export type WatchPollResult =
  | { outcome: "gone" | "not_modified" | "error" }
  | { outcome: "baseline"; tags: number }
  | { outcome: "read"; enqueued: string[]; deleted: string[] };

/**
 * What one look at a watched upstream's tags means, however they were read (one poll, a batch).
 * The first look takes a baseline (the tags it had are never triggered); later, a new tag, or a tag
 * moved to another commit, is enqueued as a TagEvent (each of several at once); a deleted tag is
 * forgotten and triggers nothing. A listing of only the newest tags (`complete: false`) deletes
 * nothing: a tag missing from it may only be older.
 */
export async function applyListing(
  upstream: Project, before: WatchedState, listing: TagListing, state: WatchState, deps: Pick<WorkerDeps, "queues">, log: Logger,
): Promise<WatchPollResult> {
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
  const deleted = listing.complete === false ? [] : [...known.keys()].filter((name) => !current.has(name));
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

/** How soon a look that failed for a passing reason (a timeout, a 5xx) is tried again, unless its next poll comes sooner. */
export const WATCH_RETRY_MS = 30_000;

/**
 * A look that failed: logged once per distinct error; never stops the others. A passing failure
 * (network, 5xx, a timeout: `transient`) is tried again within WATCH_RETRY_MS rather than a whole
 * interval later, so one bad moment does not cost a release an interval; any other waits for the
 * next poll (a wrong address or a private repository is not fixed by asking again soon; a rate
 * limit has its own wait).
 */
export async function recordFailure(upstream: Project, error: unknown, state: WatchState, log: Logger): Promise<WatchPollResult> {
  const place = placeOf(upstream.location);
  const e = classifyHttpError(error, `reading the tags of ${place.repo}`);
  watchPolls.inc({ outcome: "error" });
  if (e.kind === "transient") await state.dueBy(upstream.id, Date.now() + WATCH_RETRY_MS);
  if (await state.failed(upstream.id, e.message)) {
    log.warn({ upstream: upstream.id, url: place.repo, err: e.message, hint: e.hint ?? "check that the address is right and the repository public" },
      "watch: cannot read this upstream's tags; it is polled again (within 30 s if the failure was passing, else at its next interval; the others go on). Fix the map entry's address, or remove the entry");
  }
  return { outcome: "error" };
}

function tagEvent(upstream: Project, tag: { name: string; sha: string }): TagEvent {
  const place = placeOf(upstream.location);
  return {
    forge: place.forge, ...(place.host ? { host: place.host } : {}), repo: place.repo, tag: tag.name, sha: tag.sha, source: "watch",
    deliveryId: watchTagDeliveryId(upstream.id, tag.name, tag.sha), receivedAt: new Date().toISOString(),
  };
}
