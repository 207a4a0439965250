import type { Logger } from "pino";
import { ForgeError } from "../forge/errors.js";
import type { DependencyMap, Project } from "../map/graph.js";
import type { Privacy, PublicFilter } from "./privacy.js";
import type { KnownVisibility, Visibility, VisibilityStore } from "./visibility-store.js";

/** How long the forge's word is taken without asking again (GitLab sends no event when it changes). */
export const VISIBILITY_MAX_AGE_MS = 60 * 60_000;

export interface ProjectVisibilityOptions {
  map: () => DependencyMap;
  store: VisibilityStore;
  /** Asks the forge (workers only); throws when it cannot tell. Without it, unknown stays private. */
  lookup?: ((project: Project) => Promise<Visibility>) | undefined;
  maxAgeMs?: number | undefined;
  log?: Logger | undefined;
  now?: () => number;
}

/**
 * Every project's visibility, known before anything about it is published. The map's
 * `visibility: private` always wins (it can only make a project more private); else the forge's
 * word, from webhook payloads, GitHub's privatized/publicized events, or asked when unknown or
 * older than an hour. A project the forge cannot be asked about counts as private.
 */
export class ProjectVisibility implements Privacy, PublicFilter {
  private readonly asking = new Map<string, Promise<Visibility>>();

  constructor(private readonly o: ProjectVisibilityOptions) {}

  /** The visibility the relay acts on now. */
  async of(project: Project): Promise<Visibility> {
    return (await this.ofMany([project]))[0]!;
  }

  async anyPrivate(projectIds: readonly string[]): Promise<boolean> {
    const map = this.o.map();
    const projects = [...new Set(projectIds)].map((id) => map.project(id));
    // A project no longer in the map cannot be asked about: it counts as private.
    if (projects.some((p) => p === undefined)) return true;
    return (await this.ofMany(projects as Project[])).includes("private");
  }

  async hidden(projectIds: readonly string[]): Promise<Set<string>> {
    const map = this.o.map();
    const ids = [...new Set(projectIds)];
    const projects = ids.map((id) => map.project(id));
    const known = await this.o.store.get(projects.flatMap((p) => (p ? [p.location] : [])));
    const out = new Set<string>();
    let k = 0;
    ids.forEach((id, i) => {
      const p = projects[i];
      if (!p) return;
      const word = known[k++];
      // Known private now, or only ever declared by its own repository and never seen public.
      if (p.visibility === "private" || word?.visibility === "private" || (p.declared && word === undefined)) out.add(id);
    });
    return out;
  }

  /** Several projects' visibility with one Redis read (a fan-out's downstreams). */
  async ofMany(projects: readonly Project[]): Promise<Visibility[]> {
    const known = await this.o.store.get(projects.map((p) => p.location));
    const now = (this.o.now ?? Date.now)();
    const maxAge = this.o.maxAgeMs ?? VISIBILITY_MAX_AGE_MS;
    return Promise.all(projects.map(async (p, i) => {
      if (p.visibility === "private") return "private";
      const word = known[i];
      if (word && now - word.at <= maxAge) return word.visibility;
      return this.ask(p, word);
    }));
  }

  /**
   * Asks the forge once at a time per project. A forge that cannot see the project (not installed,
   * no access, a 404) makes it private, not kept; a passing failure (network, 5xx, a rate limit)
   * is thrown, so the job retries instead of writing what it was about in the wrong place.
   */
  private ask(project: Project, stale: KnownVisibility | undefined): Promise<Visibility> {
    const lookup = this.o.lookup;
    if (!lookup) return Promise.resolve("private");
    const id = project.id;
    let pending = this.asking.get(id);
    if (!pending) {
      pending = (async () => {
        try {
          const visibility = await lookup(project);
          await this.o.store.set(project.location, visibility, "forge", (this.o.now ?? Date.now)());
          return visibility;
        } catch (err) {
          if (!(err instanceof ForgeError) || err.kind !== "config") throw err;
          this.o.log?.warn({ project: id, err: err.message, was: stale?.visibility }, "visibility unknown: the project counts as private until the forge answers");
          return "private" as const;
        } finally {
          this.asking.delete(id);
        }
      })();
      this.asking.set(id, pending);
    }
    return pending;
  }
}
