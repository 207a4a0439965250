import { once } from "node:events";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { key } from "../queue/names.js";
import type { LiveMap, MapSources, StoredMap } from "./live-map.js";
import type { DeclarationText } from "./load.js";

const STORED = key("map-repo", "last-good");
const DECLARATIONS = key("map", "declarations");
const VERSION = key("map", "version");
export const MAP_UPDATED_CHANNEL = key("map", "updated");

export type { MapSources, StoredMap };

export async function readStoredMap(redis: Redis): Promise<StoredMap | undefined> {
  const raw = await redis.get(STORED);
  return raw ? (JSON.parse(raw) as StoredMap) : undefined;
}

export async function readSources(redis: Redis): Promise<MapSources> {
  const [version, repo, declarations] = await Promise.all([redis.get(VERSION), readStoredMap(redis), redis.hgetall(DECLARATIONS)]);
  return {
    version: version ?? "0",
    repo,
    declarations: Object.values(declarations).map((raw) => JSON.parse(raw) as DeclarationText).sort((a, b) => a.file.localeCompare(b.file)),
  };
}

/** Keeps the repository's new good version and tells every process (web and workers) to take it. */
export async function storeMap(redis: Redis, stored: StoredMap): Promise<string> {
  await redis.set(STORED, JSON.stringify(stored));
  return announce(redis);
}

/** Keeps (or, for undefined, forgets) a downstream's declaration, by the place it was read from. */
export async function storeDeclaration(redis: Redis, place: string, declaration: DeclarationText | undefined): Promise<string> {
  if (declaration) await redis.hset(DECLARATIONS, place, JSON.stringify(declaration));
  else await redis.hdel(DECLARATIONS, place);
  return announce(redis);
}

async function announce(redis: Redis): Promise<string> {
  const version = String(await redis.incr(VERSION));
  await redis.publish(MAP_UPDATED_CHANNEL, version);
  return version;
}

const inFlight = new WeakMap<LiveMap, { done: Promise<void>; again: boolean }>();

/**
 * Takes the stored sources into this process's live map, unless they are the ones in use. A burst
 * of announcements makes one rebuild (and one more if something came while it ran), not one each.
 */
export async function adoptStoredMap(redis: Redis, live: LiveMap, log: Logger): Promise<void> {
  const running = inFlight.get(live);
  if (running) {
    running.again = true;
    return running.done;
  }
  const state = { done: Promise.resolve(), again: false };
  inFlight.set(live, state);
  state.done = (async () => {
    try {
      do {
        state.again = false;
        await adoptOnce(redis, live, log);
      } while (state.again);
    } finally {
      inFlight.delete(live);
    }
  })();
  return state.done;
}

async function adoptOnce(redis: Redis, live: LiveMap, log: Logger): Promise<void> {
  const sources = await readSources(redis);
  if (sources.version === "0" || sources.version === live.version) return;
  const loaded = live.adopt(sources);
  if (loaded) log.info({ version: sources.version, sha: sources.repo?.sha, declarations: sources.declarations.length, projects: loaded.map.size }, "dependency map: took the stored version");
  else log.error({ version: sources.version }, "dependency map: the stored sources do not merge with the local files; keeping the active map");
}

/**
 * Follows the versions other processes store: on each announcement, after (re)subscribing (an
 * announcement may have come meanwhile), and every `everyMs` in case one was lost. Returns a
 * function that stops the timer.
 */
export async function followStoredMap(subscriber: Redis, redis: Redis, live: LiveMap, log: Logger, everyMs: number): Promise<() => void> {
  const adopt = () => void adoptStoredMap(redis, live, log).catch((err: unknown) => log.warn({ err }, "dependency map: could not take the new version"));
  subscriber.on("message", (channel) => {
    if (channel === MAP_UPDATED_CHANNEL) adopt();
  });
  subscriber.on("ready", adopt);
  // SUBSCRIBE only once the connection is ready: sent while it connects, it can overtake ioredis 5's
  // own handshake (its ready check's INFO then fails on a subscribed connection, redis/ioredis#2037),
  // and after the next reconnect ioredis no longer resubscribes: every announcement was lost (seen
  // here: test/faults/redis-subscriber.test.ts, 3 of 6 runs under load). On later reconnects ioredis
  // resubscribes by itself, after its ready check.
  if (subscriber.status !== "ready") await once(subscriber, "ready");
  await subscriber.subscribe(MAP_UPDATED_CHANNEL);
  adopt();
  const timer = setInterval(adopt, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
