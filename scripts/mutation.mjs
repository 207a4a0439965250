#!/usr/bin/env node
// npm run test:mutation [-- <target>... [stryker options]]
//   targets: names from scripts/mutation-targets.mjs, or a folder (src/workers, src/report: all its
//   parts) or a file they mutate (src/map/edge-filter.ts, src/workers/trigger.ts: the target holding it);
//   none = every target, one after another.
//   Other arguments go to `stryker run` as they are, e.g. --incremental, --force,
//   --mutate "src/workers/trigger.ts:1-80", --concurrency 2, --dryRunOnly.
// MUTATION_LIST_ONLY=1 prints the targets an invocation would run, and stops.
// At the end it prints the scores per folder and file (scripts/mutation-scores.mjs).
// Each target's reports land in reports/mutation/<target>.{html,json}; with --incremental its
// results are kept in mutation/<target>.incremental.json (committed) and only changed mutants rerun.
import { spawnSync } from "node:child_process";
import { targets } from "./mutation-targets.mjs";

const args = process.argv.slice(2);
const chosen = [];
const passThrough = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a.startsWith("-")) {
    passThrough.push(a);
    // options with a value
    if (["--mutate", "-m", "--concurrency", "-c", "--logLevel", "--timeoutMS"].includes(a) && args[i + 1] !== undefined) passThrough.push(args[++i]);
    continue;
  }
  const wanted = a.replace(/\/$/, "");
  const matching = targets[wanted] ? [wanted] : Object.keys(targets).filter((n) => targets[n].folder === wanted || targets[n].mutate.includes(wanted));
  if (matching.length === 0) {
    console.error(`unknown target ${a}; one of: ${Object.entries(targets).map(([n, t]) => `${n} (${t.folder ?? t.mutate.join(" ")})`).join(", ")}`);
    process.exit(2);
  }
  chosen.push(...matching);
}
if (process.env.MUTATION_LIST_ONLY) { console.log((chosen.length ? [...new Set(chosen)] : Object.keys(targets)).join(" ")); process.exit(0); }
const names = chosen.length ? [...new Set(chosen)] : Object.keys(targets);
let failed = 0;
for (const name of names) {
  const started = Date.now();
  console.log(`\n=== mutation target ${name}: ${targets[name].mutate.join(" ")}`);
  const r = spawnSync("npx", ["stryker", "run", "stryker.config.mjs", ...passThrough], {
    stdio: "inherit",
    env: { ...process.env, MUTATION_TARGET: name },
  });
  console.log(`=== ${name}: exit ${r.status}, ${((Date.now() - started) / 60000).toFixed(1)} min`);
  if (r.status !== 0) failed++;
}
// The scores per folder and file, from each target's latest results (scripts/mutation-scores.mjs).
console.log("\n=== mutation scores");
spawnSync(process.execPath, ["scripts/mutation-scores.mjs"], { stdio: "inherit" });
process.exit(failed ? 1 : 0);
