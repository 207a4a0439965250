import type { MapEdge, MapReport, MapTrigger, MapV1 } from "./schema.js";
import { matchTag } from "./match-tag.js";

export type ProjectLocation =
  | { forge: "github"; repo: string }
  | { forge: "gitlab"; project: string; host: string | undefined; tokenEnv: string | undefined; webhookSecretEnv?: string | undefined };

export interface Project {
  id: string;
  location: ProjectLocation;
  trigger: MapTrigger | undefined;
  /** How this project, as an upstream, wants failures reported. */
  report: MapReport | undefined;
}

export interface MapOptions {
  /** GITLAB_URL's host (with port, if any) */
  gitlabHost?: string | undefined;
}

export interface Dependant {
  project: Project;
  edge: MapEdge;
}

/** The validated map, indexed for the questions the flow asks. Immutable once built. */
export class DependencyMap {
  private readonly byId = new Map<string, Project>();
  private readonly byLocation = new Map<string, Project[]>();
  private readonly dependants = new Map<string, Dependant[]>();

  private constructor(projects: Project[], edges: { from: string; to: string; edge: MapEdge }[]) {
    for (const p of projects) {
      this.byId.set(p.id, p);
      const key = locationKey(p.location);
      this.byLocation.set(key, [...(this.byLocation.get(key) ?? []), p]);
    }
    for (const { from, to, edge } of edges) {
      const project = this.byId.get(to);
      if (project) this.dependants.set(from, [...(this.dependants.get(from) ?? []), { project, edge }]);
    }
  }

  /** `gitlabHost`: GITLAB_URL's host; a project naming it is on the default host (as its webhooks say). */
  static fromV1(map: MapV1, options: MapOptions = {}): DependencyMap {
    const defaultHost = options.gitlabHost?.toLowerCase();
    const hostOf = (host: string | undefined) => (host === undefined || host.toLowerCase() === defaultHost ? undefined : host.toLowerCase());
    const projects: Project[] = map.projects.map((p) => ({
      id: p.id,
      location: p.github !== undefined
        ? { forge: "github", repo: p.github }
        : typeof p.gitlab === "string"
          ? { forge: "gitlab", project: p.gitlab, host: undefined, tokenEnv: undefined }
          : {
            forge: "gitlab", project: p.gitlab!.project, host: hostOf(p.gitlab!.host),
            tokenEnv: p.gitlab!.token_env, webhookSecretEnv: p.gitlab!.webhook_secret_env,
          },
      trigger: p.trigger,
      report: p.report,
    }));
    const edges = map.projects.flatMap((p) => (p.depends_on ?? []).map((edge) => ({ from: edge.project, to: p.id, edge })));
    return new DependencyMap(projects, edges);
  }

  /** Every project, in map order. */
  projects(): Project[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  project(id: string): Project | undefined {
    return this.byId.get(id);
  }

  /** Map projects that live at this place (one repository may be listed under several ids). */
  projectsAt(location: LocationRef): Project[] {
    return this.byLocation.get(locationKey(location)) ?? [];
  }

  /** The edge by which `downstreamId` depends on `upstreamId`. */
  edge(upstreamId: string, downstreamId: string): MapEdge | undefined {
    return this.dependants.get(upstreamId)?.find((d) => d.project.id === downstreamId)?.edge;
  }

  /** Dependants that test `upstreamId`'s pull requests (`pull_requests` on the edge). */
  pullRequestDependants(upstreamId: string): Dependant[] {
    return (this.dependants.get(upstreamId) ?? []).filter((d) => d.edge.pull_requests !== undefined && d.edge.pull_requests !== false);
  }

  /** Dependants of `upstreamId` whose tag pattern matches `tag`, in map order. */
  dependantsFor(upstreamId: string, tag: string): Dependant[] {
    return (this.dependants.get(upstreamId) ?? []).filter((d) => matchTag(d.edge.tags, tag));
  }
}

/** owner/repo on GitHub, group/project on GitLab. */
export function repoOf(project: Project): string {
  return project.location.forge === "github" ? project.location.repo : project.location.project;
}

/** Enough of a location to find it again: forge and path, and the host for GitLab (undefined = GITLAB_URL). */
export type LocationRef = { forge: "github"; repo: string } | { forge: "gitlab"; project: string; host?: string | undefined };

export function locationKey(location: LocationRef): string {
  return location.forge === "github"
    ? `github:${location.repo.toLowerCase()}`
    : `gitlab:${(location.host ?? "").toLowerCase()}:${location.project.toLowerCase()}`;
}
