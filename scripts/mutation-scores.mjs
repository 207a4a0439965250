#!/usr/bin/env node
// The mutation scores per folder and per file, from the latest result of each target: its report
// (reports/mutation/<target>.json, written when a run ends) or its incremental file
// (mutation/<target>.incremental.json: committed, and also written as a checkpoint while a run goes
// on), whichever is newer. `npm run test:mutation` prints it after its targets; alone:
//   node scripts/mutation-scores.mjs            a Markdown table, for TESTING.md
// Score = (killed + timed out) ÷ (killed + timed out + survived + not covered), as Stryker counts it;
// mutants that crash on load, and those not tested yet (a stopped run), are left out and counted apart.
import { existsSync, readFileSync, statSync } from "node:fs";
import { targets } from "./mutation-targets.mjs";

const SCORED = ["Killed", "Timeout", "Survived", "NoCoverage"];
const newest = (...files) => files.filter(existsSync).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];

/** file → its mutants' statuses (each file is mutated by one target only) */
const byFile = new Map();
const sources = [];
for (const name of Object.keys(targets)) {
  const file = newest(`reports/mutation/${name}.json`, `mutation/${name}.incremental.json`);
  if (!file) continue;
  const report = JSON.parse(readFileSync(file, "utf8"));
  sources.push(`${name}: ${file} (${new Date(statSync(file).mtimeMs).toISOString().slice(0, 16)}Z)`);
  for (const [path, f] of Object.entries(report.files)) {
    // only the files this target mutates (an old report may hold others)
    if (!targets[name].mutate.some((m) => m === path || path.startsWith(`${m}/`))) continue;
    byFile.set(path, f.mutants.map((m) => m.status));
  }
}

const score = (statuses) => {
  const c = {};
  for (const s of statuses) c[s] = (c[s] ?? 0) + 1;
  const killed = (c.Killed ?? 0) + (c.Timeout ?? 0);
  const scored = SCORED.reduce((n, s) => n + (c[s] ?? 0), 0);
  return { killed, scored, survived: c.Survived ?? 0, uncovered: c.NoCoverage ?? 0, other: statuses.length - scored, pct: scored ? (100 * killed) / scored : NaN };
};
const folderOf = (path) => (path.startsWith("src/workers/") || path.startsWith("src/report/") ? path.split("/").slice(0, 2).join("/") : path);
const row = (name, s) => `| ${name} | ${Number.isNaN(s.pct) ? "–" : `${s.pct.toFixed(1)} %`} | ${s.killed} / ${s.scored} | ${s.survived} | ${s.uncovered} | ${s.other} |`;

const folders = new Map();
for (const [path, statuses] of byFile) folders.set(folderOf(path), [...(folders.get(folderOf(path)) ?? []), ...statuses]);
console.log("| folder or file | score | killed / scored | survived | not covered | not scored (errors, not yet run) |");
console.log("|---|---|---|---|---|---|");
for (const [name, statuses] of [...folders].sort()) console.log(row(`**${name}**`, score(statuses)));
console.log("");
console.log("| file | score | killed / scored | survived | not covered | not scored |");
console.log("|---|---|---|---|---|---|");
for (const [path, statuses] of [...byFile].sort()) console.log(row(path, score(statuses)));
console.log(`\nfrom: ${sources.join("; ")}`);
