import { describeFilter } from "../map/edge-filter.js";
import type { DependencyMap, Edge, Project } from "../map/graph.js";
import { MapError, formatProblem, loadMap, type LoadedMap } from "../map/load.js";
import { mapJsonSchemaText } from "../map/json-schema.js";
import { nearest } from "../map/nearest.js";
import { renderGraph, subgraph, type GraphFormat } from "../map/render-graph.js";
import { count } from "../web/dashboard/html.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** Loads the map or prints every problem (exit 1). */
function load(path: string, io: Io): LoadedMap | undefined {
  try {
    return loadMap(path);
  } catch (error) {
    if (!(error instanceof MapError)) throw error;
    for (const p of error.problems) io.err(`${formatProblem(p)}\n`);
    io.err(`${error.problems.length} problem${error.problems.length === 1 ? "" : "s"} in ${path}\n`);
    return undefined;
  }
}

/** `validate FILE|DIR`: 0 when the map is valid (warnings on stderr), 1 with every problem. */
export function validateCommand(path: string, io: Io): number {
  const loaded = load(path, io);
  if (!loaded) return 1;
  for (const w of loaded.warnings) io.err(`${formatProblem({ ...w, message: `warning: ${w.message}` })}\n`);
  const { map } = loaded;
  const edges = map.projects().reduce((n, p) => n + map.allDependants(p.id).length, 0);
  io.out(`${path}: valid: ${count(map.size, "project")}, ${count(edges, "edge")}, ${count(map.foundations().length, "foundation")} in ${count(loaded.files.length, "file")}` +
    `${loaded.warnings.length > 0 ? `, ${loaded.warnings.length} warning${loaded.warnings.length === 1 ? "" : "s"}` : ""}\n`);
  return 0;
}

/** `graph FILE|DIR --format mermaid|dot|json [--from PROJECT] [--depth N]`. */
export function graphCommand(path: string, o: { format: GraphFormat; from?: string | undefined; depth?: number | undefined }, io: Io): number {
  const loaded = load(path, io);
  if (!loaded) return 1;
  if (o.from !== undefined && !loaded.map.project(o.from)) {
    io.err(`openci-relay graph: ${path}: ${noProject(loaded.map, o.from)}\n`);
    return 1;
  }
  io.out(renderGraph(loaded.map, subgraph(loaded.map, o.from, o.depth), o.format));
  return 0;
}

/** `explain FILE|DIR PROJECT TAG [--event tag|release]`: which dependants a tag triggers, and why (not). */
export function explainCommand(path: string, projectId: string, tag: string, event: "tag" | "release", io: Io): number {
  const loaded = load(path, io);
  if (!loaded) return 1;
  const { map } = loaded;
  const upstream = map.project(projectId);
  if (!upstream) {
    io.err(`openci-relay explain: ${path}: ${noProject(map, projectId)}\n`);
    return 1;
  }
  const edges = map.allDependants(projectId);
  const hits = new Set(map.dependantsFor(projectId, tag, event).map((d) => d.project.id));
  io.out(`${event === "tag" ? "Tag" : "Release"} ${tag} of ${projectId} (${where(upstream)}):\n`);
  if (edges.length === 0) io.out("  nothing depends on it.\n");
  for (const { project, edge } of edges) {
    io.out(hits.has(project.id) ? `  ✓ ${project.id}: ${whyYes(edge, tag, event)}\n` : `  ✗ ${project.id}: ${whyNot(edge, tag, event)}\n`);
    if (hits.has(project.id)) for (const line of cascades(map, project, projectId, 1)) io.out(`${line}\n`);
  }
  return 0;
}

export function schemaCommand(io: Io): number {
  io.out(mapJsonSchemaText());
  return 0;
}

/** "no project 'kubernetis': did you mean kubernetes?" (the suggestion when an id is near enough). */
function noProject(map: DependencyMap, id: string): string {
  const like = nearest(id, map.projects().map((p) => p.id));
  return `no project '${id}'${like ? `: did you mean ${like}?` : ""}`;
}

function where(p: Project): string {
  if (p.location.forge === "git") return p.location.url;
  if (p.location.forge === "gerrit") return `${p.location.url}/${p.location.project}`;
  return p.location.forge === "github" ? `github.com/${p.location.repo}` : `${p.location.host ?? "GitLab"}/${p.location.project}`;
}

function whyYes(edge: Edge, tag: string, event: string): string {
  const how = edge.after_check ? `, once the upstream check '${edge.after_check}' passes` : "";
  return `${describeFilter(edge.filter)} matches ${tag}, on ${event}${how}; triggered ${edge.after_check ? "then" : "at once"}`;
}

function whyNot(edge: Edge, tag: string, event: string): string {
  if (!edge.on.has(event as "tag")) return `its edge reacts to ${[...edge.on].join(", ")}, not ${event}`;
  const base = `${describeFilter(edge.filter)}${edge.prereleases === undefined ? "" : edge.prereleases ? " (prereleases included)" : " (prereleases left out)"}`;
  return `${base} does not match ${tag}`;
}

/** Dependants reached by `cascade: true` edges when the run of `from` passes, as indented lines. */
function cascades(map: DependencyMap, from: Project, origin: string, depth: number, seen = new Set([origin, from.id])): string[] {
  if (depth >= map.cascadeHopLimit) return [];
  return map.allDependants(from.id).filter((d) => d.edge.cascade && !seen.has(d.project.id)).flatMap((d) => {
    seen.add(d.project.id);
    return [
      `  ${"  ".repeat(depth)}↳ ${d.project.id}: cascades when ${from.id}'s run passes (hop ${depth + 1} of at most ${map.cascadeHopLimit})`,
      ...cascades(map, d.project, origin, depth + 1, seen),
    ];
  });
}
