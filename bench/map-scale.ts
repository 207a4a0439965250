/**
 * npm run bench:map: the dependency map at foundation scale. Generates a v2 map of 10,000 projects
 * and 100,000 edges (10 foundations, globs, regexes and semver ranges, a few cascades), then
 * measures: load + validate time (YAML parse, schema, references, graph checks, index) and memory;
 * the time to resolve the dependants of one tag (p50/p99 over 20,000 look-ups); and the graph
 * check alone at 25k, 50k and 100k edges, to show it grows linearly. Prints a table for BENCHMARKS.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { checkGraph } from "../src/map/check-graph.js";
import { loadMap, parseMapFiles } from "../src/map/load.js";
import { fromV2 } from "../src/map/normalise.js";
import { MapV2 } from "../src/map/schema.js";
import { parse } from "yaml";

const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 10_000);
const EDGES = Number(process.env.BENCH_EDGES ?? 100_000);
const FOUNDATIONS = 10;

/** A deterministic pseudo-random sequence, so every run measures the same map. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Edges only from lower to higher index: no cycle. Cascades only out of roots: chains of 2 hops. */
function generate(projects: number, edges: number): string {
  const rand = rng(42);
  const perProject = Math.ceil(edges / (projects - 100));
  const lines = ["version: 2", "foundations:"];
  for (let f = 0; f < FOUNDATIONS; f++) lines.push(`  - { id: f${f}, name: Foundation ${f} }`);
  lines.push("projects:");
  let written = 0;
  for (let i = 0; i < projects; i++) {
    const id = `p${i}`;
    const forge = i % 5 === 0 ? `gitlab: group${i % 97}/project-${i}` : `github: org${i % 211}/repo-${i}`;
    if (i < 100 || written >= edges) {
      lines.push(`  - { id: ${id}, foundation: f${i % FOUNDATIONS}, ${forge} }`);
      continue;
    }
    const trigger = i % 5 === 0 ? "{ ref: main }" : "{ event_type: openci }";
    lines.push(`  - id: ${id}`, `    foundation: f${i % FOUNDATIONS}`, `    ${forge}`, `    trigger: ${trigger}`, "    depends_on:");
    const ups = new Set<number>();
    while (ups.size < Math.min(perProject, edges - written, i)) ups.add(Math.floor(rand() * i));
    for (const up of ups) {
      const kind = up % 3;
      const filter = kind === 0 ? 'tags: "v*"' : kind === 1 ? 'tag_regex: "v\\\\d+\\\\.\\\\d+\\\\.\\\\d+"' : 'semver: ">=1.2.0 <3"';
      lines.push(`      - { project: p${up}, ${filter}${up < 100 && rand() < 0.05 ? ", cascade: true" : ""} }`);
    }
    written += ups.size;
  }
  return `${lines.join("\n")}\n`;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function main() {
  const dir = mkdtempSync(join(tmpdir(), "openci-bench-map-"));
  try {
    const text = generate(PROJECTS, EDGES);
    const file = join(dir, "map.yml");
    writeFileSync(file, text);

    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    // Wall time, and the process's CPU time (every thread: GC helpers too), which a shared machine disturbs less.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const { map, warnings } = loadMap(file);
    const loadMs = performance.now() - t0;
    const loadCpuMs = cpuMs(c0);
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    const rssAfterLoad = process.memoryUsage().rss;
    const edgeCount = map.projects().reduce((n, p) => n + map.allDependants(p.id).length, 0);

    // Resolution: the dependants of one tag of a random upstream (most have ~10 dependants).
    const rand = rng(7);
    const tags = ["v1.4.2", "v2.0.0", "v3.1.0", "v2.5.0-rc.1", "1.2.3", "release-9"];
    const times: number[] = [];
    let matched = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = `p${Math.floor(rand() * 100)}`;
      const tag = tags[i % tags.length]!;
      const t = process.hrtime.bigint();
      matched += map.dependantsFor(id, tag).length;
      times.push(Number(process.hrtime.bigint() - t) / 1000);
    }

    // 100 downstreams' own declarations merged into the big map (one check when they all fit).
    // Ten owners, ten repositories each: within the per-owner quota (OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER, 50).
    const declarations = Array.from({ length: 100 }, (_, i) => ({
      file: `github:decl${i % 10}/r${i}/.github/openci.yml`, location: { forge: "github" as const, repo: `decl${i % 10}/r${i}` },
      text: `trigger: { event_type: openci }\ndepends_on: [{ project: p${(i * 7) % PROJECTS}, tags: "v*" }, { project: p${(i * 13 + 1) % PROJECTS}, semver: ">=1" }]\n`,
    }));
    const cd = process.cpuUsage();
    const td = performance.now();
    const withDeclarations = parseMapFiles([{ file, text }], file, {}, declarations);
    const declarationsMs = performance.now() - td;
    const declarationsCpuMs = cpuMs(cd);
    if (withDeclarations.refusedDeclarations.length > 0) throw new Error("a generated declaration was refused");

    // The graph check alone, at growing sizes: linear means time per edge stays flat.
    const scaling = [0.25, 0.5, 1].map((share) => {
      const fragment = fromV2(MapV2.parse(parse(generate(Math.round(PROJECTS * share), Math.round(EDGES * share)))), "map.yml");
      global.gc?.(); // not the previous parse's garbage
      const t = performance.now();
      checkGraph([fragment], 5);
      const elapsed = performance.now() - t;
      return { edges: fragment.edges.length, ms: elapsed, perEdgeUs: (elapsed * 1000) / fragment.edges.length };
    });

    console.log(`Map: ${map.size} projects, ${edgeCount} edges, ${(text.length / 1024 / 1024).toFixed(1)} MB of YAML (node ${process.version}, ${process.arch})`);
    console.log("");
    console.log("| measure | figure | target |");
    console.log("|---|---|---|");
    console.log(`| load + validate (YAML, schema, references, graph checks, index) | ${loadMs.toFixed(0)} ms (CPU ${loadCpuMs.toFixed(0)} ms) | < 1000 ms |`);
    console.log(`| heap held by the loaded map (process rss after loading) | ${mb(heapAfter - heapBefore)} (${mb(rssAfterLoad)}) | |`);
    console.log(`| warnings found (placed from the fast parse) | ${warnings.length} | |`);
    console.log(`| load + validate with 100 downstream declarations merged | ${declarationsMs.toFixed(0)} ms (CPU ${declarationsCpuMs.toFixed(0)} ms) | |`);
    console.log(`| resolve the dependants of one tag, p50 / p99 | ${pct(times, 50).toFixed(1)} µs / ${pct(times, 99).toFixed(1)} µs (avg ${(matched / times.length).toFixed(1)} matches) | p99 < 100 µs |`);
    for (const s of scaling) console.log(`| graph checks (cycles, cascade hops, warnings) at ${s.edges} edges | ${s.ms.toFixed(1)} ms (${s.perEdgeUs.toFixed(2)} µs per edge) | linear |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_WRITE) { writeFileSync(process.env.BENCH_WRITE, generate(PROJECTS, EDGES)); } else main();
