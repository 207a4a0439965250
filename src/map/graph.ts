import { compileFilter, type TagFilter, type TagMatcher } from "./edge-filter.js";
import type { SinkSpec } from "../sinks/sink-spec.js";
import type { MapReport, MapTrigger } from "./schema.js";
import { gitUrlKey } from "./git-url.js";
import type { SystemKind } from "../forge/kinds.js";

export type ProjectLocation =
  | { forge: "github"; repo: string }
  | { forge: "gitlab"; project: string; host: string | undefined; tokenEnv: string | undefined; webhookSecretEnv?: string | undefined }
  /** any git host, read over smart HTTP (format v2 `git:`): `url` is the address `git clone` takes */
  | { forge: "git"; url: string }
  /** a Gerrit server (format v2 `gerrit:`): `url` its base URL with any context path, `project` the project's name there */
  | GerritLocation;

/** Where a project lives on a Gerrit server, and how the relay reads it (format v2 `gerrit:`). */
export interface GerritLocation {
  forge: "gerrit";
  /** the server's base URL with any context path, without a trailing slash: https://review.opendev.org, https://gerrit.onap.org/r */
  url: string;
  project: string;
  /** HTTP credentials (basic auth under /a/): the variables holding them; absent, the REST API is read anonymously */
  userEnv?: string | undefined;
  passwordEnv?: string | undefined;
  /** `gerrit stream-events` over SSH: the variables holding the account and its private key, and the port (29418) */
  ssh?: { userEnv: string; keyEnv: string; port: number; hostKey?: string | undefined } | undefined;
  /** Zuul builds this project: `after_check: <pipeline>` waits for the tag's buildset there */
  zuul?: { url: string; tenant: string } | undefined;
  /** vote Verified on changes, not only comment (`vote: true`) */
  vote?: boolean | undefined;
}

/** The systems a project can live on (a runner such as Jenkins is a place, never a location). */
export type LocationKind = ProjectLocation["forge"];

/** Which upstream events an edge reacts to. */
export type EdgeEvent = "tag" | "release" | "pull_request" | "change";

export interface Foundation {
  id: string;
  name: string;
  url: string | undefined;
}

/** What a v2 map says about a project besides where it lives (all optional). */
export interface ProjectMeta {
  foundation?: string | undefined;
  homepage?: string | undefined;
  description?: string | undefined;
  contact?: string | undefined;
  ci?: string | undefined;
  /** purl patterns of what it releases, e.g. pkg:pypi/nova */
  artifacts?: string[] | undefined;
}

export interface Project {
  id: string;
  location: ProjectLocation;
  trigger: MapTrigger | undefined;
  /** How this project, as an upstream, wants failures reported. */
  report: MapReport | undefined;
  meta?: ProjectMeta;
  /** The map says `visibility: private` (it can only make a project more private than its forge says). */
  visibility?: "private" | undefined;
  /** Known only from the repository's own declaration, not from the reviewed map. */
  declared?: boolean | undefined;
  /** What the repository's declaration says about itself: shown as declared, never as the map's word. */
  declaredMeta?: ProjectMeta | undefined;
  /** Format v2 `watch`: poll this upstream's tags this often (a git upstream is always polled). */
  watch?: { intervalMs?: number | undefined } | undefined;
}

/** "`downstream` depends on `upstream`": when and how an upstream event triggers the downstream. */
export interface Edge {
  upstream: string;
  downstream: string;
  filter: TagFilter;
  prereleases: boolean | undefined;
  on: ReadonlySet<EdgeEvent>;
  after_check?: string | undefined;
  /** Format v2: wait until the release's artifacts are published, every one of the upstream's (true) or these (as the upstream writes them). */
  after_artifacts?: true | string[] | undefined;
  timeout?: string | undefined;
  report?: MapReport | undefined;
  /** Set when `on` has pull_request: whether forks' pull requests are tested too. */
  pull_requests?: { forks: boolean } | undefined;
  cascade: boolean;
  /**
   * The edge exists only because the downstream declared it (`.github/openci.yml`), not in the
   * reviewed map: it triggers the downstream (its own consent) but is shown on the upstream's
   * commits only when the upstream's map entry says `report: { declared: true }`.
   */
  declared?: boolean | undefined;
}

export interface Dependant {
  project: Project;
  edge: Edge;
}

export interface MapParts {
  foundations: Foundation[];
  projects: Project[];
  edges: Edge[];
  cascadeHopLimit: number;
  /** CDEvents subscribers the map names (format v2 `subscribers`) */
  subscribers?: SinkSpec[];
}

export const DEFAULT_CASCADE_HOP_LIMIT = 5;

export interface MapOptions {
  /** GITLAB_URL's host (with port, if any): a project naming it is on the default host, as its webhooks say */
  gitlabHost?: string | undefined;
  /** OPENCI_MAP_SECRETS: the only variables the map may name as secrets (undefined: any but the relay's own) */
  secretNames?: ReadonlySet<string> | undefined;
  /**
   * Variables OPENCI_SINKS sends to a host (a broker's password, a Matrix token): name → that host.
   * The map may name one only for the same host: a map change could otherwise send the operators'
   * broker password to a subscriber of its own.
   */
  boundSecrets?: ReadonlyMap<string, string> | undefined;
  /** The shortest `watch.interval` the map may ask for (OPENCI_WATCH_MIN_INTERVAL_MS; default 10 s). */
  minWatchIntervalMs?: number | undefined;
  /** Declarations taken per GitHub account / GitLab top-level group (default 50), and upstreams per declaration (default 50). */
  maxDeclaredProjectsPerOwner?: number | undefined;
  maxDeclaredEdgesPerProject?: number | undefined;
}

/** The validated map, indexed for the questions the flow asks. Immutable once built. */
export class DependencyMap {
  private readonly byId = new Map<string, Project>();
  private readonly byLocation = new Map<string, Project[]>();
  /** each upstream's dependants in map order, and each one's compiled filter at the same index */
  private readonly dependants = new Map<string, { list: Dependant[]; matchers: TagMatcher[] }>();
  private readonly upstreams = new Map<string, Edge[]>();
  private readonly foundationById = new Map<string, Foundation>();
  readonly cascadeHopLimit: number;
  private readonly sinks: readonly SinkSpec[];

  private constructor(parts: MapParts) {
    this.cascadeHopLimit = parts.cascadeHopLimit;
    this.sinks = parts.subscribers ?? [];
    for (const f of parts.foundations) this.foundationById.set(f.id, f);
    for (const p of parts.projects) {
      this.byId.set(p.id, p);
      const key = locationKey(p.location);
      const at = this.byLocation.get(key);
      if (at) at.push(p);
      else this.byLocation.set(key, [p]);
    }
    // A project's edges come one after another: its entry and its upstreams are looked up once.
    let downstream: string | undefined;
    let project: Project | undefined;
    let ups: Edge[] | undefined;
    for (const edge of parts.edges) {
      if (edge.downstream !== downstream) {
        downstream = edge.downstream;
        project = this.byId.get(downstream);
        ups = this.upstreams.get(downstream);
      }
      if (!project) continue;
      const matches = compileFilter(edge.filter, edge.prereleases);
      const at = this.dependants.get(edge.upstream);
      if (at) {
        at.list.push({ project, edge });
        at.matchers.push(matches);
      } else this.dependants.set(edge.upstream, { list: [{ project, edge }], matchers: [matches] });
      if (ups) ups.push(edge);
      else this.upstreams.set(downstream, (ups = [edge]));
    }
  }

  static build(parts: MapParts): DependencyMap {
    return new DependencyMap(parts);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Every project, in map order. */
  projects(): Project[] {
    return [...this.byId.values()];
  }

  /** The map's CDEvents subscribers (their secrets are named, never written). */
  subscribers(): readonly SinkSpec[] {
    return this.sinks;
  }

  foundations(): Foundation[] {
    return [...this.foundationById.values()];
  }

  foundation(id: string): Foundation | undefined {
    return this.foundationById.get(id);
  }

  project(id: string): Project | undefined {
    return this.byId.get(id);
  }

  /** Map projects that live at this place (one repository may be listed under several ids). */
  projectsAt(location: LocationRef | undefined): Project[] {
    return location ? this.byLocation.get(locationKey(location)) ?? [] : [];
  }

  /** The edge by which `downstreamId` depends on `upstreamId`. */
  edge(upstreamId: string, downstreamId: string): Edge | undefined {
    return this.dependants.get(upstreamId)?.list.find((d) => d.project.id === downstreamId)?.edge;
  }

  /** Every edge out of `upstreamId`, whatever its filter, in map order. */
  allDependants(upstreamId: string): Dependant[] {
    return this.dependants.get(upstreamId)?.list.slice() ?? [];
  }

  /** The edges into `downstreamId`: its upstreams. */
  upstreamsOf(downstreamId: string): Edge[] {
    return this.upstreams.get(downstreamId) ?? [];
  }

  /** Dependants that test `upstreamId`'s pull requests (`on: [pull_request]`). */
  pullRequestDependants(upstreamId: string): Dependant[] {
    return this.allDependants(upstreamId).filter((d) => d.edge.on.has("pull_request"));
  }

  /** Dependants that test `upstreamId`'s Gerrit changes (`on: [change]`): each new patch set, and a `recheck`. */
  changeDependants(upstreamId: string): Dependant[] {
    return this.allDependants(upstreamId).filter((d) => d.edge.on.has("change"));
  }

  /** Dependants of `upstreamId` whose edge reacts to `event` and whose filter matches `tag`, in map order. */
  dependantsFor(upstreamId: string, tag: string, event: "tag" | "release" = "tag"): Dependant[] {
    const out: Dependant[] = [];
    const at = this.dependants.get(upstreamId);
    if (!at) return out;
    // Edges share a few compiled filters: each is asked once per tag.
    const verdicts = new Map<TagMatcher, boolean>();
    for (let i = 0; i < at.list.length; i++) {
      const d = at.list[i]!;
      if (!d.edge.on.has(event)) continue;
      const matches = at.matchers[i]!;
      let ok = verdicts.get(matches);
      if (ok === undefined) verdicts.set(matches, (ok = matches(tag)));
      if (ok) out.push(d);
    }
    return out;
  }
}

/** A Gerrit server's base URL as a key: scheme and host folded, the context path kept, no trailing slash. */
export function gerritUrlKey(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, "")}`;
}

/** owner/repo on GitHub, group/project on GitLab, the URL of a git host's repository. */
export function repoOf(project: Project): string {
  return placeOf(project.location).repo;
}

/**
 * A place on a system, said the same way for every system: which system, its host (undefined: the
 * default one, GITLAB_URL for GitLab), the path (owner/repo, group/project), and for a place the map
 * lists, the variable that holds its token. What `Systems` takes to find a role's implementation.
 */
export interface Place {
  /** a location's system (github, gitlab, git, gerrit) or a runner's (jenkins) */
  forge: SystemKind;
  repo: string;
  host?: string | undefined;
  tokenEnv?: string | undefined;
}

/**
 * Where a project's pipelines run: its trigger's CI server (`trigger: { jenkins }`: the job's path on
 * that server), else its own forge. What the trigger, run-result and poll workers ask `Systems` for.
 */
export function runPlaceOf(project: Pick<Project, "location" | "trigger">): Place {
  const jenkins = project.trigger?.jenkins;
  return jenkins ? { forge: "jenkins", repo: jenkins.job, host: jenkins.url } : placeOf(project.location);
}

/** A project's location as a place (a git host's repository: its URL is the path; a Gerrit project: its name, the server's URL the host). */
export function placeOf(location: ProjectLocation): Place & { forge: LocationKind } {
  switch (location.forge) {
    case "github":
      return { forge: "github", repo: location.repo };
    case "git":
      return { forge: "git", repo: location.url };
    case "gerrit":
      return { forge: "gerrit", repo: location.project, host: location.url };
    default:
      return { forge: "gitlab", repo: location.project, ...(location.host ? { host: location.host } : {}), ...(location.tokenEnv ? { tokenEnv: location.tokenEnv } : {}) };
  }
}

/**
 * A place as the map's index knows it (what `projectsAt`, `ownerKey` and `locationKey` take);
 * undefined for a runner's place (a Jenkins job), which no project lives at.
 */
export function refOf(place: Pick<Place, "repo" | "host"> & { forge: LocationKind }): LocationRef;
export function refOf(place: Pick<Place, "forge" | "repo" | "host">): LocationRef | undefined;
export function refOf(place: Pick<Place, "forge" | "repo" | "host">): LocationRef | undefined {
  switch (place.forge) {
    case "github":
      return { forge: "github", repo: place.repo };
    case "git":
      return { forge: "git", url: place.repo };
    case "gerrit":
      return { forge: "gerrit", url: place.host ?? "", project: place.repo };
    case "jenkins":
      return undefined;
    default:
      return { forge: "gitlab", project: place.repo, host: place.host };
  }
}

/** Enough of a location to find it again: forge and path, and the host for GitLab (undefined = GITLAB_URL). */
export type LocationRef =
  | { forge: "github"; repo: string }
  | { forge: "gitlab"; project: string; host?: string | undefined }
  | { forge: "git"; url: string }
  | { forge: "gerrit"; url: string; project: string };

/** Who owns a place: the GitHub account, the GitLab host and top-level group, a git repository's host. */
export function ownerKey(location: LocationRef): string {
  switch (location.forge) {
    case "github":
      return `github:${location.repo.split("/")[0]!.toLowerCase()}`;
    case "git":
      return `git:${new URL(location.url).host.toLowerCase()}`;
    case "gerrit":
      return `gerrit:${new URL(location.url).host.toLowerCase()}/${location.project.split("/")[0]!}`;
    default:
      return `gitlab:${(location.host ?? "").toLowerCase()}/${location.project.split("/")[0]!.toLowerCase()}`;
  }
}

export function locationKey(location: LocationRef): string {
  switch (location.forge) {
    case "github":
      return `github:${location.repo.toLowerCase()}`;
    case "git":
      return `git:${gitUrlKey(location.url)}`;
    case "gerrit":
      // Gerrit's project names are case-sensitive; its URL's scheme and host are not.
      return `gerrit:${gerritUrlKey(location.url)}:${location.project}`;
    default:
      return `gitlab:${(location.host ?? "").toLowerCase()}:${location.project.toLowerCase()}`;
  }
}
