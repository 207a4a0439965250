import { ownerKey, type DependencyMap, type Edge, type Project, type ProjectLocation } from "../map/graph.js";
import { edgesOf, type Chained } from "../workers/edge-from.js";
import type { ProjectVisibility } from "./visibility.js";

/**
 * Who reports on an upstream's commits (its check runs, GitLab statuses, the roll-up and the
 * failure comment), and which edges an upstream's events may trigger:
 * - a private downstream appears there only when it has the upstream's owner (GitHub account,
 *   GitLab top-level group on the same host); otherwise it is triggered and recorded privately;
 * - an edge only a downstream declared is shown there only with the upstream's consent in the
 *   reviewed map (`report: { declared: true }`), in a cascade for every edge of the chain;
 * - a private upstream triggers only edges of the reviewed map, never a self-declared downstream.
 */
export class UpstreamSurface {
  constructor(
    private readonly map: () => DependencyMap,
    private readonly visibility: Pick<ProjectVisibility, "of" | "ofMany">,
  ) {}

  /** Whether this trigger's downstream may be written on its upstream's commit. */
  async shows(trigger: Chained): Promise<boolean> {
    return (await this.showsMany([trigger]))[0]!;
  }

  /** As `shows`, for many triggers (a fan-out), with one look-up of the visibilities they need. */
  async showsMany(triggers: readonly Chained[]): Promise<boolean[]> {
    const map = this.map();
    const needed = new Map<string, Project>();
    const verdicts = triggers.map((trigger) => {
      const upstream = map.project(trigger.upstream.projectId);
      if (!upstream) return { ok: false, needs: [] as Project[] };
      const needs: Project[] = [];
      for (const { upstream: from, downstream: to } of edgesOf(trigger)) {
        const project = map.project(to);
        if (!project) return { ok: false, needs };
        if (map.edge(from, to)?.declared && upstream.report?.declared !== true) return { ok: false, needs };
        // Another owner's project is shown only when it is public.
        if (!sameOwner(project.location, upstream.location)) needs.push(project);
      }
      for (const p of needs) needed.set(p.id, p);
      return { ok: true, needs };
    });
    const projects = [...needed.values()];
    const visibilities = new Map((await this.visibility.ofMany(projects)).map((v, i) => [projects[i]!.id, v]));
    return verdicts.map((v) => v.ok && v.needs.every((p) => visibilities.get(p.id) === "public"));
  }

  /** Whether `upstream`'s event may trigger along `edge`; a cascade also names the upstream that tagged. */
  async mayTrigger(upstream: Project, edge: Pick<Edge, "declared">, tagging?: Project): Promise<boolean> {
    if (!edge.declared) return true;
    for (const p of tagging && tagging.id !== upstream.id ? [upstream, tagging] : [upstream]) {
      if ((await this.visibility.of(p)) === "private") return false;
    }
    return true;
  }
}

/** Same GitHub account, or same GitLab host and top-level group. */
export function sameOwner(a: ProjectLocation, b: ProjectLocation): boolean {
  return ownerKey(a) === ownerKey(b);
}
