import type { MapProblem } from "./check-references.js";
import type { Fragment, Placed } from "./normalise.js";
import type { Edge } from "./graph.js";

const MAX_REPORTED_CYCLES = 20;

/**
 * The graph with each id numbered once (projects first, in map order, then ids only edges name),
 * and each upstream's edges in map order (compressed rows: `edges` from `first[n]` to `first[n + 1]`).
 * The checks walk numbers and typed arrays, not maps keyed by id: a map has 100,000 edges.
 */
interface Numbered {
  names: string[];
  /** the number of each project, in map order (an id held twice appears twice) */
  roots: Int32Array;
  first: Int32Array;
  edges: Placed<Edge>[];
  /** the downstream's number of each edge in `edges` */
  to: Int32Array;
  /** the upstream's number of each edge, in map order (not `edges`' order) */
  from: Int32Array;
  outgoing: Int32Array;
  incoming: Int32Array;
}

function numbered(projects: Placed<{ id: string }>[], edges: Placed<Edge>[]): Numbered {
  const numbers = new Map<string, number>();
  const names: string[] = [];
  const number = (id: string) => {
    let n = numbers.get(id);
    if (n === undefined) {
      n = names.length;
      numbers.set(id, n);
      names.push(id);
    }
    return n;
  };
  const roots = new Int32Array(projects.length);
  for (let i = 0; i < projects.length; i++) roots[i] = number(projects[i]!.value.id);
  const from = new Int32Array(edges.length);
  const into = new Int32Array(edges.length);
  for (let i = 0; i < edges.length; i++) {
    from[i] = number(edges[i]!.value.upstream);
    into[i] = number(edges[i]!.value.downstream);
  }
  const outgoing = new Int32Array(names.length);
  const incoming = new Int32Array(names.length);
  for (let i = 0; i < edges.length; i++) {
    outgoing[from[i]!]!++;
    incoming[into[i]!]!++;
  }
  const first = new Int32Array(names.length + 1);
  for (let n = 0; n < names.length; n++) first[n + 1] = first[n]! + outgoing[n]!;
  const fill = first.slice(0, names.length);
  const sorted = new Array<Placed<Edge>>(edges.length);
  const to = new Int32Array(edges.length);
  for (let i = 0; i < edges.length; i++) {
    const at = fill[from[i]!]!++;
    sorted[at] = edges[i]!;
    to[at] = into[i]!;
  }
  return { names, roots, first, edges: sorted, to, from, outgoing, incoming };
}

/**
 * Checks of the whole graph, linear in projects + edges: dependency cycles (with their path), and
 * cascade chains longer than the hop limit. Warnings: projects with no edge at all, foundations
 * with no project, and cascade edges out of a project nothing triggers.
 */
export function checkGraph(fragments: Fragment[], hopLimit: number): { errors: MapProblem[]; warnings: MapProblem[] } {
  const edges = fragments.length === 1 ? fragments[0]!.edges : fragments.flatMap((f) => f.edges);
  const projects = fragments.length === 1 ? fragments[0]!.projects : fragments.flatMap((f) => f.projects);
  const graph = numbered(projects, edges);
  const errors = cycles(graph);
  if (errors.length === 0) errors.push(...longCascades(graph, hopLimit));

  const warnings: MapProblem[] = [];
  for (let i = 0; i < projects.length; i++) {
    const p = projects[i]!;
    const n = graph.roots[i]!;
    if (graph.outgoing[n] === 0 && graph.incoming[n] === 0) {
      warnings.push({ file: p.file, path: p.path, message: `project '${p.value.id}' has no upstream and no dependant: nothing will trigger it` });
    }
  }
  const used = new Set(projects.map((p) => p.value.meta?.foundation));
  for (const fr of fragments) {
    for (const f of fr.foundations) {
      if (!used.has(f.value.id)) warnings.push({ file: f.file, path: f.path, message: `foundation '${f.value.id}' has no project` });
    }
  }
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i]!;
    if (e.value.cascade && graph.incoming[graph.from[i]!] === 0) {
      warnings.push({
        file: e.file, path: [...e.path, "cascade"],
        message: `'${e.value.upstream}' has no upstream, so no run of it is started by the relay and nothing cascades from it`,
      });
    }
  }
  return { errors, warnings };
}

/** Depth-first search without recursion; each back edge closes a cycle, reported with its path. */
function cycles({ names, roots, first, edges, to }: Numbered): MapProblem[] {
  const state = new Uint8Array(names.length); // 0 not seen, 1 on the stack, 2 done
  const stack = new Int32Array(names.length);
  const next = new Int32Array(names.length); // per stack entry: its next edge
  const depthOf = new Int32Array(names.length); // per id on the stack: where
  const problems: MapProblem[] = [];
  let more = 0;
  for (const root of roots) {
    if (state[root] !== 0) continue;
    let depth = 0;
    stack[0] = root;
    next[0] = first[root]!;
    depthOf[root] = 0;
    state[root] = 1;
    while (depth >= 0) {
      const top = stack[depth]!;
      const at = next[depth]!;
      if (at === first[top + 1]) {
        state[top] = 2;
        depth--;
        continue;
      }
      next[depth] = at + 1;
      const edge = edges[at]!;
      const down = to[at]!;
      if (state[down] === 1) {
        if (problems.length >= MAX_REPORTED_CYCLES) {
          more++;
          continue;
        }
        const path: string[] = [];
        for (let d = depthOf[down]!; d <= depth; d++) path.push(names[stack[d]!]!);
        path.push(names[down]!);
        problems.push({ file: edge.file, path: [...edge.path, "project"], message: `dependency cycle: ${path.join(" → ")} (each depends on the one before)` });
      } else if (state[down] === 0) {
        state[down] = 1;
        depth++;
        stack[depth] = down;
        next[depth] = first[down]!;
        depthOf[down] = depth;
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
function longCascades({ names, roots, first, edges, to, incoming }: Numbered, limit: number): MapProblem[] {
  const hops = new Int32Array(names.length); // the longest chain reaching each id so far (0: none yet)
  const via = new Int32Array(names.length); // the upstream that chain comes through
  const remaining = incoming.slice();
  const queue: number[] = [];
  for (const n of roots) if (incoming[n] === 0) queue.push(n);
  const problems: MapProblem[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i]!;
    const here = hops[id]!;
    for (let at = first[id]!; at < first[id + 1]!; at++) {
      const e = edges[at]!;
      const down = to[at]!;
      const n = e.value.cascade && here > 0 ? here + 1 : 1;
      if (n > hops[down]!) {
        hops[down] = n;
        via[down] = id;
      }
      if (e.value.cascade && n > limit) {
        problems.push({ file: e.file, path: [...e.path, "cascade"], message: `cascade chain of ${n} hops is over the hop limit ${limit}: ${chain(names, hops, via, down).join(" → ")}` });
      }
      const left = --remaining[down]!;
      if (left === 0) queue.push(down);
    }
  }
  return problems;
}

/** The chain that reaches `to`: back through cascade edges to the upstream whose release starts it. */
function chain(names: string[], hops: Int32Array, via: Int32Array, to: number): string[] {
  const path = [names[to]!];
  for (let at = hops[to]! > 0 ? to : -1; at !== -1; at = hops[at] === 1 || hops[via[at]!] === 0 ? -1 : via[at]!) path.unshift(names[via[at]!]!);
  return path;
}
