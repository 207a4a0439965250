import type { Edge, EdgeEvent, Foundation, MapOptions, Project, ProjectLocation } from "./graph.js";
import type { TagFilter } from "./edge-filter.js";
import type { SinkSpec } from "../sinks/sink-spec.js";
import type { Declaration, MapEdge, MapEdgeV2, MapProject, MapProjectV2, MapV1, MapV2 } from "./schema.js";
import { parseDuration } from "./duration.js";
import { normaliseGitUrl } from "./git-url.js";
import type { MapGerritLocation } from "./schema.js";

/** Gerrit's default SSH port (stream-events). */
export const GERRIT_SSH_PORT = 29418;

function gerritLocation(g: MapGerritLocation): ProjectLocation {
  return {
    forge: "gerrit", url: g.url.replace(/\/+$/, ""), project: g.project,
    ...(g.user_env ? { userEnv: g.user_env, passwordEnv: g.password_env } : {}),
    ...(g.ssh ? { ssh: { userEnv: g.ssh.user_env, keyEnv: g.ssh.key_env, port: g.ssh.port ?? GERRIT_SSH_PORT, ...(g.ssh.host_key ? { hostKey: g.ssh.host_key } : {}) } } : {}),
    ...(g.zuul ? { zuul: { url: g.zuul.url.replace(/\/+$/, ""), tenant: g.zuul.tenant } } : {}),
    ...(g.vote !== undefined ? { vote: g.vote } : {}),
  };
}

type Path = (string | number)[];

/** A project or an edge, with where it was written (for problems found after merging files). */
export interface Placed<T> {
  value: T;
  file: string;
  path: Path;
  /** what the file said, for checks a schema cannot express */
  raw: MapEdge | MapEdgeV2 | MapProject | MapProjectV2 | undefined;
}

/** One map file, in the relay's terms. */
export interface Fragment {
  file: string;
  version: 1 | 2;
  foundations: Placed<Foundation>[];
  projects: Placed<Project>[];
  edges: Placed<Edge>[];
  cascadeHopLimit: number | undefined;
  /** CDEvents subscribers (format v2) */
  subscribers?: Placed<SinkSpec>[];
}

function location(p: MapProject | MapProjectV2, options: MapOptions): ProjectLocation | undefined {
  if (p.github !== undefined) return { forge: "github", repo: p.github };
  if ("git" in p && p.git !== undefined) return { forge: "git", url: normaliseGitUrl(p.git) };
  if ("gerrit" in p && p.gerrit !== undefined) return gerritLocation(p.gerrit);
  if (p.gitlab === undefined) return undefined;
  if (typeof p.gitlab === "string") return { forge: "gitlab", project: p.gitlab, host: undefined, tokenEnv: undefined };
  const host = p.gitlab.host?.toLowerCase();
  return {
    forge: "gitlab", project: p.gitlab.project, host: host === options.gitlabHost?.toLowerCase() ? undefined : host,
    tokenEnv: p.gitlab.token_env, webhookSecretEnv: p.gitlab.webhook_secret_env,
  };
}

/** A project without a forge is reported by the checks; here it gets a placeholder so it can still be referenced. */
const NOWHERE: ProjectLocation = { forge: "github", repo: "-/-" };

export function fromV1(map: MapV1, file: string, options: MapOptions = {}): Fragment {
  const projects = map.projects.map((p, i) => ({
    value: { id: p.id, location: location(p, options) ?? NOWHERE, trigger: p.trigger, report: p.report },
    file, path: ["projects", i], raw: p,
  }));
  const edges = map.projects.flatMap((p, i) => (p.depends_on ?? []).map((e, j) => ({
    value: edgeV1(p.id, e), file, path: ["projects", i, "depends_on", j], raw: e,
  })));
  return { file, version: 1, foundations: [], projects, edges, cascadeHopLimit: undefined };
}

function edgeV1(downstream: string, e: MapEdge): Edge {
  const prs = e.pull_requests === undefined || e.pull_requests === false ? undefined : { forks: e.pull_requests !== true && e.pull_requests.forks };
  return {
    upstream: e.project, downstream, filter: { kind: "glob", pattern: e.tags }, prereleases: undefined,
    on: new Set<EdgeEvent>(prs ? ["tag", "release", "pull_request"] : ["tag", "release"]),
    after_check: e.after_check, timeout: e.timeout, report: e.report, pull_requests: prs, cascade: false,
  };
}

export function fromV2(map: MapV2, file: string, options: MapOptions = {}): Fragment {
  const foundations = (map.foundations ?? []).map((f, i) => ({ value: { id: f.id, name: f.name, url: f.url }, file, path: ["foundations", i], raw: undefined }));
  const list = map.projects ?? [];
  const projects = list.map((p, i) => ({
    value: {
      id: p.id, location: location(p, options) ?? NOWHERE, trigger: p.trigger, report: p.report,
      ...(p.visibility ? { visibility: p.visibility } : {}),
      ...(p.watch ? { watch: p.watch.interval ? { intervalMs: parseDuration(p.watch.interval) } : {} } : {}),
      meta: { foundation: p.foundation, homepage: p.homepage, description: p.description, contact: p.contact, ci: p.ci, artifacts: p.artifacts },
    },
    file, path: ["projects", i], raw: p,
  }));
  const edges: Placed<Edge>[] = [];
  list.forEach((p, i) => (p.depends_on ?? []).forEach((e, j) => edges.push({ value: edgeV2(p.id, e), file, path: ["projects", i, "depends_on", j], raw: e })));
  const subscribers = (map.subscribers ?? []).map((s, i) => ({ value: s, file, path: ["subscribers", i], raw: undefined }));
  return { file, version: 2, foundations, projects, edges, cascadeHopLimit: map.settings?.cascade_hop_limit, subscribers };
}

/**
 * The events of an edge that does not say `on`: one set shared by every such edge (a map has
 * 100,000 edges). Edges' `on` are read-only (ReadonlySet): nothing may add to it.
 */
const TAG_AND_RELEASE: ReadonlySet<EdgeEvent> = new Set<EdgeEvent>(["tag", "release"]);

function edgeV2(downstream: string, e: MapEdgeV2): Edge {
  const filter: TagFilter = e.semver !== undefined
    ? { kind: "semver", range: e.semver }
    : e.tag_regex !== undefined ? { kind: "regex", pattern: e.tag_regex } : { kind: "glob", pattern: e.tags ?? "*" };
  const on = e.on === undefined ? TAG_AND_RELEASE : new Set<EdgeEvent>(e.on);
  const pull_requests = on.has("pull_request") ? { forks: e.forks === true } : undefined;
  // the same keys in the same order either way (no spread of an empty object per edge)
  return e.after_artifacts === true || Array.isArray(e.after_artifacts)
    ? {
      upstream: e.project, downstream, filter, prereleases: e.prereleases, on,
      after_check: e.after_check, timeout: e.timeout, report: e.report, after_artifacts: e.after_artifacts, pull_requests, cascade: e.cascade === true,
    }
    : {
      upstream: e.project, downstream, filter, prereleases: e.prereleases, on,
      after_check: e.after_check, timeout: e.timeout, report: e.report, pull_requests, cascade: e.cascade === true,
    };
}

/**
 * The id of a repository only a declaration brings in: namespaced by forge (and GitLab host), so
 * it can never take a name the reviewed map may give a project later (`kubernetes`).
 */
export function declaredId(where: ProjectLocation, options: MapOptions = {}): string {
  switch (where.forge) {
    case "github":
      return `github:${where.repo}`;
    case "git":
      return `git:${where.url}`;
    case "gerrit":
      return `gerrit:${where.url}/${where.project}`;
    default:
      return `gitlab:${(where.host ?? options.gitlabHost ?? "gitlab").toLowerCase()}/${where.project}`;
  }
}

/** A location as the map would write it (for the checks that read what a file said). */
function rawLocation(where: ProjectLocation): Partial<MapProjectV2> {
  switch (where.forge) {
    case "github":
      return { github: where.repo };
    case "git":
      return { git: where.url };
    case "gerrit":
      return { gerrit: { url: where.url, project: where.project } };
    default:
      return { gitlab: where.project };
  }
}

/**
 * A downstream's declaration as a fragment: one project at the repository's own location (the id
 * it has in the map when it is there, else its namespaced id) and its edges. `existing` is that
 * map project. What the map shows as authoritative (foundation, homepage, description, contact,
 * ci, artifacts) stays the reviewed map's; the declaration's own metadata is kept as declared.
 */
export function fromDeclaration(d: Declaration, file: string, where: ProjectLocation, existing: Project | undefined, options: MapOptions = {}): Fragment {
  const id = existing?.id ?? declaredId(where, options);
  const declaredMeta = {
    foundation: d.foundation, homepage: d.homepage, description: d.description, contact: d.contact, ci: d.ci, artifacts: d.artifacts,
  };
  const project: Project = {
    // The upstream's consent to report declared downstreams stays the reviewed map's.
    // A pipeline trigger token is the reviewed map's to name (a declaration may name no secret).
    id, location: where, trigger: { ...d.trigger, token_env: existing?.trigger?.token_env },
    report: { ...existing?.report, ...d.report, declared: existing?.report?.declared },
    // Only ever more private: the map's `visibility: private` or the declaration's own.
    ...(d.visibility ?? existing?.visibility ? { visibility: "private" as const } : {}),
    ...(existing ? {} : { declared: true }),
    meta: { ...existing?.meta },
    ...(Object.values(declaredMeta).some((v) => v !== undefined) ? { declaredMeta } : {}),
  };
  // The foundation a declaration names is not checked against the map's: it is only ever shown as declared.
  const raw = { ...d, id, foundation: undefined, ...rawLocation(where) } as unknown as MapProjectV2;
  return {
    file, version: 2, foundations: [],
    projects: [{ value: project, file, path: [], raw }],
    edges: d.depends_on.map((e, j) => ({ value: { ...edgeV2(id, e), declared: true }, file, path: ["depends_on", j], raw: e })),
    cascadeHopLimit: undefined,
  };
}
