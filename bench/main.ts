/**
 * npm run bench [-- ingest fanout e2e budget scale]: the relay as its own processes against a
 * private Redis and the fake GitHub, each figure beside a baseline measured in the same run,
 * printed and written to BENCHMARKS.md (each benchmark's generated block replaced).
 *   BENCH_QUICK=1     seconds instead of minutes, to check the harness; nothing is written
 *   BENCH_CPU_PROF=1  every process runs with --cpu-prof; where their time went is printed, nothing is written
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { budget } from "./budget.js";
import { e2e } from "./e2e.js";
import { fanout } from "./fanout.js";
import { ingest } from "./ingest.js";
import { scale } from "./scale.js";
import { summariseProfiles } from "./cpu-profile.js";
import type { BenchOptions } from "./lib/options.js";
import { renderText, runContext, writeSection, type BenchId, type Section } from "./lib/report.js";
import { stopAllStacks } from "./lib/stack.js";

const BENCHES: Record<BenchId, (o: BenchOptions) => Promise<Section>> = { ingest, fanout, e2e, budget, scale };

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(a in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}: choose from ${Object.keys(BENCHES).join(", ")}`);
  process.exit(2);
}
const ids = (asked.length > 0 ? asked : Object.keys(BENCHES)) as BenchId[];
const options: BenchOptions = {
  quick: process.env.BENCH_QUICK === "1",
  cpuProfDir: process.env.BENCH_CPU_PROF === "1" ? mkdtempSync(join(tmpdir(), "openci-bench-prof-")) : undefined,
};
const script = process.env.npm_lifecycle_event ?? "";
const command = script.startsWith("bench") ? `npm run ${script}` : `tsx bench/main.ts ${asked.join(" ")}`.trim();

// A crash (an error event nobody listens to) must not leave the stacks' redis-servers and relays behind.
for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.once(event, (error: unknown) => {
    console.error(`\n${event}: stopping every process the bench started`, error);
    void stopAllStacks().finally(() => process.exit(1));
  });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every process the bench started`);
    void stopAllStacks().finally(() => process.exit(130));
  });
}

let failed = false;
for (const id of ids) {
  const ctx = await runContext(options.quick ? `BENCH_QUICK=1 ${command}` : command, redisVersion());
  console.log(`\n${id}: running (load average ${ctx.loadAtStart.toFixed(2)})${options.quick ? ", quick" : ""}…`);
  const t0 = Date.now();
  try {
    const section = await BENCHES[id](options);
    console.log(`${renderText(section)}\n(${id}: ${Math.round((Date.now() - t0) / 1000)} s)`);
    if (!options.quick && !options.cpuProfDir) writeSection(section, ctx);
  } catch (error) {
    failed = true;
    console.error(`${id} failed:`, error);
  }
}
await stopAllStacks();
if (options.cpuProfDir) console.log(`\n${summariseProfiles(options.cpuProfDir)}\n\nprofiles kept in ${options.cpuProfDir} (Chrome DevTools → Performance → load)`);
const written = !options.quick && !options.cpuProfDir;
console.log(written ? (failed ? "" : "\nwritten to BENCHMARKS.md") : "\nBENCH_QUICK or BENCH_CPU_PROF (figures slowed by the profiler): not written to BENCHMARKS.md");
process.exit(failed ? 1 : 0);

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync("redis-server", ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}
