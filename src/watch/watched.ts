import type { Systems } from "../forge/registry.js";
import type { DependencyMap, Project } from "../map/graph.js";

/**
 * Which upstreams the relay watches (polls for new tags) instead of waiting for a webhook: those on
 * a system no webhook comes from (a git host), and those whose map entry says `watch:`. Only
 * upstreams something depends on, on a system that is a source of tags.
 */
export function watchedUpstreams(map: DependencyMap, systems: Pick<Systems, "plays" | "watched">): Project[] {
  return map.projects().filter((p) => isWatched(p, map, systems));
}

export function isWatched(p: Project, map: DependencyMap, systems: Pick<Systems, "plays" | "watched">): boolean {
  const kind = p.location.forge;
  return map.allDependants(p.id).length > 0 && systems.plays(kind, "source") && (systems.watched(kind) || p.watch !== undefined);
}

/** How often an upstream is polled: its map entry's `watch.interval`, else OPENCI_WATCH_INTERVAL_MS. */
export function watchIntervalOf(p: Project, defaultMs: number): number {
  return p.watch?.intervalMs ?? defaultMs;
}
