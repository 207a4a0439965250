import type { Logger } from "pino";
import { placeOf, type Project } from "../map/graph.js";
import type { WatchBatchJob } from "../queue/job-data.js";
import { WatchState } from "../watch/watch-state.js";
import { isWatched } from "../watch/watched.js";
import type { WorkerDeps } from "./deps.js";
import { applyListing, recordFailure, type WatchPollResult } from "./watch-listing.js";

/**
 * One look at several watched upstreams of one system, read together by its batch source (GitHub:
 * one GraphQL query per 50 repositories), each then taken on its own as a single poll would be
 * (applyListing): a baseline, new and moved tags enqueued, or its own error. Upstreams no longer
 * watched are left out; a repository two map entries share is read once.
 */
export async function processWatchBatch(job: WatchBatchJob, deps: WorkerDeps, log: Logger): Promise<Record<string, WatchPollResult["outcome"]>> {
  const map = deps.map();
  const reader = deps.systems.batchSource(job.forge);
  const upstreams = job.upstreams.map((id) => map.project(id)).filter((p): p is Project => p !== undefined && isWatched(p, map, deps.systems));
  if (!reader || upstreams.length === 0) return {};
  const state = new WatchState(deps.redis);
  const befores = await Promise.all(upstreams.map((u) => state.state(u.id)));
  const asks = new Map<string, string | undefined>();
  upstreams.forEach((u, i) => {
    const repo = placeOf(u.location).repo;
    const etag = befores[i]!.baselineAt ? befores[i]!.etag : undefined;
    // Entries sharing a repository read it once: with an ETag only when each of them last saw that
    // answer (an entry without a baseline, or one read at another time, must get the listing).
    asks.set(repo, asks.has(repo) && asks.get(repo) !== etag ? undefined : etag);
  });

  let answers: Awaited<ReturnType<typeof reader.watchTagsOfMany>>;
  try {
    answers = await reader.watchTagsOfMany([...asks].map(([repo, etag]) => ({ repo, etag })));
  } catch (error) {
    // The whole batch failed (no installation to read with, GitHub away): each upstream records it.
    answers = new Map([...asks.keys()].map((repo) => [repo, error as Error]));
  }
  const outcomes: Record<string, WatchPollResult["outcome"]> = {};
  for (const [i, upstream] of upstreams.entries()) {
    const answer = answers.get(placeOf(upstream.location).repo) ?? new Error("the batch gave no answer for this repository");
    const result = answer instanceof Error
      ? await recordFailure(upstream, answer, state, log)
      : await applyListing(upstream, befores[i]!, answer, state, deps, log);
    outcomes[upstream.id] = result.outcome;
  }
  return outcomes;
}
