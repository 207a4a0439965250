import { describeFilter } from "./edge-filter.js";
import { repoOf, type DependencyMap, type Edge, type Project } from "./graph.js";

export const GRAPH_FORMATS = ["mermaid", "dot", "json"] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

export interface Subgraph {
  projects: Project[];
  edges: Edge[];
}

/**
 * The whole map, or what a release of `from` reaches: `from`, its dependants up to `depth` hops
 * (breadth first), and its direct upstreams for context.
 */
export function subgraph(map: DependencyMap, from?: string, depth = Number.POSITIVE_INFINITY): Subgraph {
  if (from === undefined) {
    const projects = map.projects();
    return { projects, edges: projects.flatMap((p) => map.allDependants(p.id).map((d) => d.edge)) };
  }
  const ids = new Set([from]);
  const edges: Edge[] = [...map.upstreamsOf(from)];
  for (const e of edges) ids.add(e.upstream);
  let frontier = [from];
  for (let hop = 0; hop < depth && frontier.length > 0; hop++) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const { project, edge } of map.allDependants(id)) {
        edges.push(edge);
        if (!ids.has(project.id)) {
          ids.add(project.id);
          next.push(project.id);
        }
      }
    }
    frontier = next;
  }
  return { projects: map.projects().filter((p) => ids.has(p.id)), edges: edges.filter((e) => ids.has(e.upstream) && ids.has(e.downstream)) };
}

export function renderGraph(map: DependencyMap, g: Subgraph, format: GraphFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify({
        foundations: map.foundations().filter((f) => g.projects.some((p) => p.meta?.foundation === f.id)),
        projects: g.projects.map((p) => ({ id: p.id, foundation: p.meta?.foundation ?? null, forge: p.location.forge, repo: repoOf(p) })),
        edges: g.edges.map((e) => ({ from: e.upstream, to: e.downstream, filter: describeFilter(e.filter), on: [...e.on], after_check: e.after_check ?? null, cascade: e.cascade })),
      }, null, 2)}\n`;
    case "mermaid":
      return mermaid(map, g);
    case "dot":
      return dot(map, g);
  }
}

/** Edge label: the filter unless it is every tag, plus the gate and cascade. */
function label(e: Edge): string {
  return [e.filter.kind === "glob" && e.filter.pattern === "*" ? "" : describeFilter(e.filter), e.after_check ? `after ${e.after_check}` : "", e.cascade ? "cascade" : ""]
    .filter(Boolean).join(", ");
}

function byFoundation(g: Subgraph): Map<string, Project[]> {
  const groups = new Map<string, Project[]>();
  for (const p of g.projects) {
    const f = p.meta?.foundation ?? "";
    (groups.get(f) ?? groups.set(f, []).get(f)!).push(p);
  }
  return groups;
}

function mermaid(map: DependencyMap, g: Subgraph): string {
  const node = new Map(g.projects.map((p, i) => [p.id, `p${i}`]));
  const text = (s: string) => s.replace(/"/g, "#quot;");
  const lines = ["graph LR"];
  for (const [foundation, projects] of byFoundation(g)) {
    const indent = foundation ? "    " : "  ";
    if (foundation) lines.push(`  subgraph f_${foundation.replace(/[^A-Za-z0-9_]/g, "_")}["${text(map.foundation(foundation)?.name ?? foundation)}"]`);
    for (const p of projects) lines.push(`${indent}${node.get(p.id)}["${text(p.id)}"]`);
    if (foundation) lines.push("  end");
  }
  for (const e of g.edges) {
    const l = label(e);
    lines.push(`  ${node.get(e.upstream)} ${e.cascade ? "-.->" : "-->"}${l ? `|"${text(l)}"|` : ""} ${node.get(e.downstream)}`);
  }
  return `${lines.join("\n")}\n`;
}

function dot(map: DependencyMap, g: Subgraph): string {
  const q = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const lines = ["digraph openci {", "  rankdir=LR;", "  node [shape=box, style=rounded];"];
  let cluster = 0;
  for (const [foundation, projects] of byFoundation(g)) {
    if (foundation) lines.push(`  subgraph cluster_${cluster++} {`, `    label=${q(map.foundation(foundation)?.name ?? foundation)};`);
    for (const p of projects) lines.push(`${foundation ? "    " : "  "}${q(p.id)};`);
    if (foundation) lines.push("  }");
  }
  for (const e of g.edges) {
    const attrs = [label(e) ? `label=${q(label(e))}` : "", e.cascade ? "style=dashed" : ""].filter(Boolean).join(", ");
    lines.push(`  ${q(e.upstream)} -> ${q(e.downstream)}${attrs ? ` [${attrs}]` : ""};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
