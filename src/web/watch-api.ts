import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { placeOf, type DependencyMap } from "../map/graph.js";
import { WatchState } from "../watch/watch-state.js";
import { admitted } from "./admin-auth.js";
import { reply } from "./http.js";

export const WATCH_PATH = "/api/v1/watch";

/** One watched upstream as `GET /api/v1/watch` and `openci-relay watch` show it. */
export interface WatchedView {
  id: string;
  /** the system and the place: github owner/name, gitlab group/project (and host), git URL */
  forge: string;
  repo: string;
  host?: string;
  intervalMs: number;
  baselineAt: string | null;
  lastPollAt: string | null;
  nextPollAt: string | null;
  lastNewTag: string | null;
  lastError: string | null;
  polls: number;
  notModified: number;
}

/**
 * The watched upstreams (Bearer OPENCI_ADMIN_TOKEN): each with its last and next poll, its last new
 * tag, its last error and how many polls were answered 304. An upstream is listed once a worker's
 * watcher has scheduled it (its first tick after the map named it).
 */
export function watchApi(redis: Redis, map: () => DependencyMap, adminToken: string | undefined, defaultIntervalMs: number) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== WATCH_PATH) return false;
    if (!admitted(req, res, adminToken, "the watched upstreams")) return true;
    if (req.method !== "GET") return reply(res, 405, { error: "use GET" });
    const state = new WatchState(redis);
    const schedule = await state.schedule();
    const upstreams: WatchedView[] = [];
    for (const [id, due] of [...schedule].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const project = map().project(id);
      if (!project) continue;
      const place = placeOf(project.location);
      const s = await state.state(id);
      upstreams.push({
        id, forge: place.forge, repo: place.repo, ...(place.host ? { host: place.host } : {}),
        intervalMs: project.watch?.intervalMs ?? defaultIntervalMs,
        baselineAt: s.baselineAt ?? null, lastPollAt: s.lastPollAt ?? null, nextPollAt: new Date(due).toISOString(),
        lastNewTag: s.lastNewTag ?? null, lastError: s.lastError ?? null, polls: s.polls, notModified: s.notModified,
      });
    }
    return reply(res, 200, { upstreams });
  };
}
