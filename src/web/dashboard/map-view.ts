import type { DependencyMap } from "../../map/graph.js";

/** What the pages read of the dependency map. */
export type MapView = Pick<DependencyMap, "project" | "projects" | "upstreamsOf" | "allDependants" | "foundation" | "foundations">;

/** The map as one reader may see it: the projects hidden from them are not in it, nor their edges. */
export function withoutProjects(map: DependencyMap, hidden: ReadonlySet<string>): MapView {
  if (hidden.size === 0) return map;
  return {
    project: (id) => (hidden.has(id) ? undefined : map.project(id)),
    projects: () => map.projects().filter((p) => !hidden.has(p.id)),
    upstreamsOf: (id) => (hidden.has(id) ? [] : map.upstreamsOf(id).filter((e) => !hidden.has(e.upstream))),
    allDependants: (id) => (hidden.has(id) ? [] : map.allDependants(id).filter((d) => !hidden.has(d.project.id))),
    foundation: (id) => map.foundation(id),
    foundations: () => map.foundations(),
  };
}
