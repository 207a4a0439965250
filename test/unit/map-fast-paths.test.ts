/**
 * The map loader's fast paths (issue 22) answer exactly as what they replaced: the pair set as the
 * set of joined strings, the numbered graph checks as the checks on maps keyed by id, zod's
 * compiled parser as zod's own, and the index's look-ups as a plain filter over the edges.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import jsYaml from "js-yaml";
import { z } from "zod";
import { checkGraph } from "../../src/map/check-graph.js";
import type { MapProblem } from "../../src/map/check-references.js";
import { compileFilter, type TagFilter } from "../../src/map/edge-filter.js";
import { DependencyMap, type Edge, type EdgeEvent, type Project } from "../../src/map/graph.js";
import type { Fragment, Placed } from "../../src/map/normalise.js";
import { PairSet } from "../../src/map/pair-set.js";
import { Declaration, MapV1, MapV2 } from "../../src/map/schema.js";

describe("the pair set", () => {
  // a small alphabet with NUL, so that pairs joined to the same string do occur
  const id = fc.string({ unit: fc.constantFrom("a", "b", "\u0000"), minLength: 0, maxLength: 3 });

  it("adds and finds pairs as the set of `${upstream}\\u0000${downstream}` did, NUL in ids included", () => {
    fc.assert(fc.property(fc.array(fc.tuple(id, id, fc.boolean()), { maxLength: 40 }), (ops) => {
      const pairs = new PairSet();
      const joined = new Set<string>();
      for (const [up, down, add] of ops) {
        const key = `${up}\u0000${down}`;
        if (add) {
          expect(pairs.add(up, down)).toBe(!joined.has(key));
          joined.add(key);
        } else expect(pairs.has(up, down)).toBe(joined.has(key));
      }
    }), { numRuns: 500 });
  });
});

/* ----- the graph checks, against the implementation on maps keyed by id they replaced ---------- */

function referenceCheckGraph(fragments: Fragment[], hopLimit: number): { errors: MapProblem[]; warnings: MapProblem[] } {
  const edges = fragments.flatMap((f) => f.edges);
  const projects = fragments.flatMap((f) => f.projects);
  const out = new Map<string, Placed<Edge>[]>();
  const incoming = new Map<string, number>();
  for (const e of edges) {
    (out.get(e.value.upstream) ?? out.set(e.value.upstream, []).get(e.value.upstream)!).push(e);
    incoming.set(e.value.downstream, (incoming.get(e.value.downstream) ?? 0) + 1);
  }
  const ids = projects.map((p) => p.value.id);
  const errors: MapProblem[] = [];
  const state = new Map<string, 1 | 2>();
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
        if (errors.length >= 20) {
          more++;
          continue;
        }
        const path = [...stack.slice(stack.findIndex((s) => s.id === to)).map((s) => s.id), to];
        errors.push({ file: edge.file, path: [...edge.path, "project"], message: `dependency cycle: ${path.join(" → ")} (each depends on the one before)` });
      } else if (!state.has(to)) {
        state.set(to, 1);
        stack.push({ id: to, next: 0 });
      }
    }
  }
  if (more > 0) errors.push({ ...errors[errors.length - 1]!, message: `and ${more} more dependency cycles` });
  if (errors.length === 0) {
    const hops = new Map<string, { n: number; via: string | undefined }>();
    const chain = (to: string) => {
      const path = [to];
      for (let entry = hops.get(to); entry?.via !== undefined; entry = entry.n === 1 ? undefined : hops.get(entry.via)) path.unshift(entry.via);
      return path;
    };
    const remaining = new Map(incoming);
    const queue = ids.filter((id) => !remaining.has(id));
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i]!;
      const here = hops.get(id);
      for (const e of out.get(id) ?? []) {
        const to = e.value.downstream;
        const n = e.value.cascade && here ? here.n + 1 : 1;
        if (n > (hops.get(to)?.n ?? 0)) hops.set(to, { n, via: id });
        if (e.value.cascade && n > hopLimit) errors.push({ file: e.file, path: [...e.path, "cascade"], message: `cascade chain of ${n} hops is over the hop limit ${hopLimit}: ${chain(to).join(" → ")}` });
        const left = remaining.get(to)! - 1;
        remaining.set(to, left);
        if (left === 0) queue.push(to);
      }
    }
  }
  const warnings: MapProblem[] = [];
  for (const p of projects) {
    if (!out.has(p.value.id) && !incoming.has(p.value.id)) warnings.push({ file: p.file, path: p.path, message: `project '${p.value.id}' has no upstream and no dependant: nothing will trigger it` });
  }
  const used = new Set(projects.map((p) => p.value.meta?.foundation));
  for (const f of fragments.flatMap((fr) => fr.foundations)) {
    if (!used.has(f.value.id)) warnings.push({ file: f.file, path: f.path, message: `foundation '${f.value.id}' has no project` });
  }
  for (const e of edges) {
    if (e.value.cascade && !incoming.has(e.value.upstream)) {
      warnings.push({ file: e.file, path: [...e.path, "cascade"], message: `'${e.value.upstream}' has no upstream, so no run of it is started by the relay and nothing cascades from it` });
    }
  }
  return { errors, warnings };
}

const TAG_AND_RELEASE: ReadonlySet<EdgeEvent> = new Set<EdgeEvent>(["tag", "release"]);
const FILTERS: TagFilter[] = [{ kind: "glob", pattern: "v*" }, { kind: "regex", pattern: "v\\d+\\.\\d+\\.\\d+" }, { kind: "semver", range: ">=1.2.0 <3" }, { kind: "glob", pattern: "*" }];

const project = (id: string, foundation?: string): Project => ({ id, location: { forge: "github", repo: `o/${id}` }, trigger: { event_type: "e" }, report: undefined, meta: { foundation } });
const edge = (upstream: string, downstream: string, i: number, cascade: boolean): Edge => ({
  upstream, downstream, filter: FILTERS[i % FILTERS.length]!, prereleases: i % 3 === 0 ? undefined : i % 3 === 1, on: i % 5 === 4 ? new Set<EdgeEvent>(["release", "pull_request"]) : TAG_AND_RELEASE,
  after_check: undefined, timeout: undefined, report: undefined, pull_requests: undefined, cascade,
});

/** Random maps in one or two files: ids held twice, upstreams no project has, cycles, cascades. */
const fragments = fc.tuple(
  fc.array(fc.tuple(fc.integer({ min: 0, max: 11 }), fc.constantFrom("f1", "f2", undefined)), { minLength: 1, maxLength: 12 }),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 13 }), fc.nat(), fc.boolean(), fc.nat()), { maxLength: 40 }),
  fc.integer({ min: 1, max: 3 }),
).map(([ps, es, files]) => {
  const out: Fragment[] = Array.from({ length: files }, (_, f) => ({ file: `f${f}.yml`, version: 2, foundations: [], projects: [], edges: [], cascadeHopLimit: undefined }));
  out[0]!.foundations.push(...["f1", "f2", "f3"].map((id, i) => ({ value: { id, name: id, url: undefined }, file: "f0.yml", path: ["foundations", i], raw: undefined })));
  ps.forEach(([n, foundation], i) => out[i % files]!.projects.push({ value: project(`p${n}`, foundation), file: out[i % files]!.file, path: ["projects", i], raw: undefined }));
  es.forEach(([up, down, cascade, k], i) => {
    const downstream = ps[down % ps.length]![0];
    const f = out[k % files]!;
    f.edges.push({ value: edge(`p${up}`, `p${downstream}`, i, cascade), file: f.file, path: ["projects", down % ps.length, "depends_on", i], raw: undefined });
  });
  return out;
});

describe("the graph checks on numbered ids", () => {
  it("report the same errors and warnings, in the same order, as the checks on maps keyed by id", () => {
    fc.assert(fc.property(fragments, fc.integer({ min: 1, max: 4 }), (fr, limit) => {
      expect(checkGraph(fr, limit)).toEqual(referenceCheckGraph(fr, limit));
    }), { numRuns: 1000 });
  });

  it("name more than 20 cycles as one 'and N more'", () => {
    const fr: Fragment = { file: "m.yml", version: 2, foundations: [], projects: [], edges: [], cascadeHopLimit: undefined };
    for (let i = 0; i < 30; i++) {
      fr.projects.push({ value: project(`a${i}`), file: "m.yml", path: ["projects", 2 * i], raw: undefined }, { value: project(`b${i}`), file: "m.yml", path: ["projects", 2 * i + 1], raw: undefined });
      fr.edges.push({ value: edge(`a${i}`, `b${i}`, i, false), file: "m.yml", path: ["projects", 2 * i + 1, "depends_on", 0], raw: undefined });
      fr.edges.push({ value: edge(`b${i}`, `a${i}`, i, false), file: "m.yml", path: ["projects", 2 * i, "depends_on", 0], raw: undefined });
    }
    const { errors } = checkGraph([fr], 5);

    expect(errors).toEqual(referenceCheckGraph([fr], 5).errors);
    expect(errors).toHaveLength(21);
    expect(errors[20]!.message).toBe("and 10 more dependency cycles");
  });
});

describe("the index", () => {
  it("answers each look-up as a filter over the edges in map order would", () => {
    fc.assert(fc.property(fragments, (fr) => {
      const projects = fr.flatMap((f) => f.projects.map((p) => p.value));
      const edges = fr.flatMap((f) => f.edges.map((e) => e.value));
      const map = DependencyMap.build({ foundations: [], projects, edges, cascadeHopLimit: 5 });
      const byId = new Map(projects.map((p) => [p.id, p]));
      for (const id of new Set([...edges.map((e) => e.upstream), ...edges.map((e) => e.downstream), "nobody"])) {
        const out = edges.filter((e) => e.upstream === id && byId.has(e.downstream)).map((e) => ({ project: byId.get(e.downstream)!, edge: e }));
        expect(map.allDependants(id)).toEqual(out);
        expect(map.upstreamsOf(id)).toEqual(edges.filter((e) => e.downstream === id && byId.has(id)));
        for (const tag of ["v1.4.2", "v2.5.0-rc.1", "release-9"]) {
          for (const event of ["tag", "release"] as const) {
            expect(map.dependantsFor(id, tag, event)).toEqual(out.filter((d) => d.edge.on.has(event) && compileFilter(d.edge.filter, d.edge.prereleases)(tag)));
          }
        }
        for (const down of byId.keys()) expect(map.edge(id, down)).toBe(out.find((d) => d.project.id === down)?.edge);
      }
      // a copy each time: changing it changes nothing in the map
      map.allDependants(edges[0]?.upstream ?? "nobody").push({ project: projects[0]!, edge: edges[0]! });
      expect(map.allDependants(edges[0]?.upstream ?? "nobody")).toEqual(edges.length > 0 ? edges.filter((e) => e.upstream === edges[0]!.upstream && byId.has(e.downstream)).map((e) => ({ project: byId.get(e.downstream)!, edge: e })) : []);
    }), { numRuns: 300 });
  });
});

/* ----- zod's compiled parser against its own ------------------------------------------------------ */

const fixture = (name: string) => jsYaml.load(readFileSync(new URL(`../../fixtures/maps/${name}`, import.meta.url), "utf8"), { schema: jsYaml.CORE_SCHEMA });

/** A value at a random place in `base` replaced by something else (often what some other key takes). */
const mutation = (base: unknown) => fc.tuple(fc.nat(), fc.nat(), fc.constantFrom<unknown>(
  undefined, null, "", "x", "v*", "30m", 3, -1, 1.5, true, [], ["tag"], {}, { comment: "none" }, "https://x.example", "pkg:pypi/x", "OWNER_ENV", "a/b", { forks: true },
)).map(([at, key, value]) => {
  const copy = structuredClone(base);
  const objects: Record<string, unknown>[] = [];
  const walk = (node: unknown) => {
    if (node === null || typeof node !== "object") return;
    objects.push(node as Record<string, unknown>);
    for (const v of Object.values(node)) walk(v);
  };
  walk(copy);
  const target = objects[at % objects.length]!;
  const keys = [...Object.keys(target), "tags", "semver", "trigger", "report", "on", "cascade", "homepage", "artifacts", "extra"];
  const k = Array.isArray(target) ? String(key % (target.length + 1)) : keys[key % keys.length]!;
  if (value === undefined) delete target[k];
  else target[k] = value;
  return copy;
});

describe("zod's compiled parser", () => {
  const cases: [string, z.ZodType, unknown][] = [
    ["a format v2 map", MapV2, fixture("cross-community.yml")],
    ["a format v1 map", MapV1, fixture("v1-example.yml")],
    ["a declaration", Declaration, { trigger: { event_type: "e" }, depends_on: [{ project: "p", tags: "v*", on: ["tag"], report: { comment: "none" } }], homepage: "https://x.example" }],
  ];

  it.each(cases)("reads %s as zod's own parser does, or leaves it to it", (_name, schema, base) => {
    const compiled = z.compile(schema);
    fc.assert(fc.property(mutation(base), (input) => {
      const runtime = schema.safeParse(input);
      const fast = compiled.safeParse(input);
      expect(fast.success).toBe(runtime.success);
      // the same values, and the same keys in the same order
      if (runtime.success && fast.success) expect(JSON.stringify(fast.data)).toBe(JSON.stringify(runtime.data));
      if (!runtime.success && !fast.success) expect(fast.error.issues).toEqual(runtime.error.issues);
    }), { numRuns: 400 });
  });
});
