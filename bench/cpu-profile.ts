/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): per profile, the functions and the packages
 * with the most self time. `tsx bench/cpu-profile.ts <folder>` reads every .cpuprofile below it;
 * `BENCH_CPU_PROF=1 npm run bench:…` prints the same for the processes the bench started.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../test/helpers/spawn-relay.js";

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

const PSEUDO = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/**
 * Time (µs) of one profile: self time by function and by package, and total time (callees
 * included) of JavaScript functions (the relay's and its libraries', not Node's internals), each
 * counted once per sample however deep it recurses.
 */
export function selfTimes(profile: CpuProfile) {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const ownTotal = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const f = frames.get(id)!;
    total += us;
    if (f.functionName === "(idle)") {
      idle += us;
      return;
    }
    const name = label(f);
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const pkg = PSEUDO.has(f.functionName) ? f.functionName : owner(place(f.url));
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frames.get(at)!;
      const where = place(frame.url);
      if (!PSEUDO.has(frame.functionName) && !where.startsWith("node:") && where !== "(native)") onStack.add(label(frame));
    }
    for (const fn of onStack) ownTotal.set(fn, (ownTotal.get(fn) ?? 0) + us);
  });
  return { total, idle, byFunction, byPackage, ownTotal };
}

function label(f: CpuProfile["nodes"][number]["callFrame"]): string {
  return PSEUDO.has(f.functionName) ? f.functionName : `${f.functionName || "(anonymous)"} ${place(f.url)}:${f.lineNumber + 1}`;
}

function place(url: string): string {
  if (url === "") return "(native)";
  const path = url.startsWith("file://") ? new URL(url).pathname : url;
  return path.startsWith(ROOT) ? relative(ROOT, path) : path;
}

/** node_modules/<package>, node:internal, or the relay's own folder (src/…). */
function owner(where: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1]!;
  if (where.startsWith("node:")) return "node (built-in modules)";
  if (where === "(native)") return "(native: V8 builtins, regexps, JSON)";
  return where.split("/").slice(0, 2).join("/");
}

function top(m: Map<string, number>, busy: number, n: number): string[] {
  return [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${k}`);
}

/** A text summary of every .cpuprofile below `dir`. */
export function summariseProfiles(dir: string, n = 20): string {
  const files = walk(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) return `no .cpuprofile below ${dir}`;
  return files.map((file) => {
    const t = selfTimes(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
    const busy = t.total - t.idle;
    // Each process also profiles tsx's module-loader thread: busy only at start.
    if (busy < 1e6) return `${relative(dir, file)}: ${(busy / 1e6).toFixed(1)} s busy, not shown`;
    return [
      `${relative(dir, file)}: ${(t.total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / t.total).toFixed(0)}%); self time, % of busy:`,
      ...top(t.byFunction, busy, n),
      "  by package:",
      ...top(t.byPackage, busy, 12),
      "  total time with what they call (relay and library functions):",
      ...top(t.ownTotal, busy, n),
    ].join("\n");
  }).join("\n\n");
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error("usage: tsx bench/cpu-profile.ts <folder with .cpuprofile files>");
    process.exit(2);
  }
  console.log(summariseProfiles(dir, Number(process.argv[3] ?? 20)));
}
