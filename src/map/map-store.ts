import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { key } from "../queue/names.js";
import type { LiveMap, MapText } from "./live-map.js";
import { MapError } from "./load.js";

const STORED = key("map-repo", "last-good");
export const MAP_UPDATED_CHANNEL = key("map-repo", "updated");

/** The last good files of the metadata repository, shared by every relay process through Redis. */
export interface StoredMap {
  sha: string;
  files: MapText[];
}

export async function readStoredMap(redis: Redis): Promise<StoredMap | undefined> {
  const raw = await redis.get(STORED);
  return raw ? (JSON.parse(raw) as StoredMap) : undefined;
}

/** Keeps the new good version and tells every process (web and workers) to take it. */
export async function storeMap(redis: Redis, stored: StoredMap): Promise<void> {
  await redis.set(STORED, JSON.stringify(stored));
  await redis.publish(MAP_UPDATED_CHANNEL, stored.sha);
}

/** Takes the stored version into this process's live map, unless it is the one in use. */
export async function adoptStoredMap(redis: Redis, live: LiveMap, log: Logger): Promise<void> {
  const stored = await readStoredMap(redis);
  if (!stored || stored.sha === live.version) return;
  try {
    const { map } = live.build(stored.files);
    live.use(map, stored.sha);
    log.info({ sha: stored.sha, projects: map.size }, "dependency map: took the metadata repository's version");
  } catch (error) {
    if (!(error instanceof MapError)) throw error;
    log.error({ sha: stored.sha, problems: error.problems.length }, "dependency map: the stored version does not merge with the local files; keeping the active map");
  }
}

/** Follows the versions other processes store. Returns a function that stops following. */
export async function followStoredMap(subscriber: Redis, redis: Redis, live: LiveMap, log: Logger): Promise<() => Promise<void>> {
  subscriber.on("message", (channel) => {
    if (channel === MAP_UPDATED_CHANNEL) void adoptStoredMap(redis, live, log).catch((err: unknown) => log.warn({ err }, "dependency map: could not take the new version"));
  });
  await subscriber.subscribe(MAP_UPDATED_CHANNEL);
  return async () => {
    await subscriber.unsubscribe(MAP_UPDATED_CHANNEL).catch(() => undefined);
  };
}
