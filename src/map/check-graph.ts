import type { MapProblem } from "./check-references.js";
import type { Fragment, Placed } from "./normalise.js";
import type { Edge } from "./graph.js";

const MAX_REPORTED_CYCLES = 20;

/**
 * Checks of the whole graph, linear in projects + edges: dependency cycles (with their path), and
 * cascade chains longer than the hop limit. Warnings: projects with no edge at all, foundations
 * with no project, and cascade edges out of a project nothing triggers.
 */
export function checkGraph(fragments: Fragment[], hopLimit: number): { errors: MapProblem[]; warnings: MapProblem[] } {
  const edges = fragments.flatMap((f) => f.edges);
  const projects = fragments.flatMap((f) => f.projects);
  const out = new Map<string, Placed<Edge>[]>();
  const incoming = new Map<string, number>();
  for (const e of edges) {
    (out.get(e.value.upstream) ?? out.set(e.value.upstream, []).get(e.value.upstream)!).push(e);
    incoming.set(e.value.downstream, (incoming.get(e.value.downstream) ?? 0) + 1);
  }
  const errors = cycles(projects.map((p) => p.value.id), out);
  if (errors.length === 0) errors.push(...longCascades(projects.map((p) => p.value.id), out, incoming, hopLimit));

  const warnings: MapProblem[] = [];
  for (const p of projects) {
    if (!out.has(p.value.id) && !incoming.has(p.value.id)) {
      warnings.push({ file: p.file, path: p.path, message: `project '${p.value.id}' has no upstream and no dependant: nothing will trigger it` });
    }
  }
  const used = new Set(projects.map((p) => p.value.meta?.foundation));
  for (const f of fragments.flatMap((fr) => fr.foundations)) {
    if (!used.has(f.value.id)) warnings.push({ file: f.file, path: f.path, message: `foundation '${f.value.id}' has no project` });
  }
  for (const e of edges) {
    if (e.value.cascade && !incoming.has(e.value.upstream)) {
      warnings.push({
        file: e.file, path: [...e.path, "cascade"],
        message: `'${e.value.upstream}' has no upstream, so no run of it is started by the relay and nothing cascades from it`,
      });
    }
  }
  return { errors, warnings };
}

/** Depth-first search without recursion; each back edge closes a cycle, reported with its path. */
function cycles(ids: string[], out: Map<string, Placed<Edge>[]>): MapProblem[] {
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const problems: MapProblem[] = [];
  let more = 0;
  for (const root of ids) {
    if (state.has(root)) continue;
    const stack: { id: string; next: number }[] = [{ id: root, next: 0 }];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edge = out.get(top.id)?.[top.next++];
      if (edge === undefined) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      const to = edge.value.downstream;
      if (state.get(to) === 1) {
        if (problems.length >= MAX_REPORTED_CYCLES) {
          more++;
          continue;
        }
        const from = stack.findIndex((s) => s.id === to);
        const path = [...stack.slice(from).map((s) => s.id), to];
        problems.push({ file: edge.file, path: [...edge.path, "project"], message: `dependency cycle: ${path.join(" → ")} (each depends on the one before)` });
      } else if (!state.has(to)) {
        state.set(to, 1);
        stack.push({ id: to, next: 0 });
      }
    }
  }
  if (more > 0) problems.push({ ...problems[problems.length - 1]!, message: `and ${more} more dependency cycles` });
  return problems;
}

/**
 * The longest chain reaching each project: 1 hop for any edge from an upstream release, +1 for each
 * cascade edge after it. A cascade edge that would make a chain longer than the limit is an error.
 * Topological order (the graph has no cycle by now), so linear in edges.
 */
function longCascades(ids: string[], out: Map<string, Placed<Edge>[]>, incoming: Map<string, number>, limit: number): MapProblem[] {
  const hops = new Map<string, { n: number; via: string | undefined }>();
  const remaining = new Map(incoming);
  const queue = ids.filter((id) => !remaining.has(id));
  const problems: MapProblem[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const here = hops.get(id);
    for (const e of out.get(id) ?? []) {
      const to = e.value.downstream;
      const n = e.value.cascade && here ? here.n + 1 : 1;
      if (n > (hops.get(to)?.n ?? 0)) hops.set(to, { n, via: id });
      if (e.value.cascade && n > limit) {
        problems.push({ file: e.file, path: [...e.path, "cascade"], message: `cascade chain of ${n} hops is over the hop limit ${limit}: ${chain(hops, to).join(" → ")}` });
      }
      const left = remaining.get(to)! - 1;
      remaining.set(to, left);
      if (left === 0) queue.push(to);
    }
  }
  return problems;
}

/** The chain that reaches `to`: back through cascade edges to the upstream whose release starts it. */
function chain(hops: Map<string, { n: number; via: string | undefined }>, to: string): string[] {
  const path = [to];
  for (let entry = hops.get(to); entry?.via !== undefined; entry = entry.n === 1 ? undefined : hops.get(entry.via)) path.unshift(entry.via);
  return path;
}
