#!/usr/bin/env node
// Lists the surviving and uncovered mutants of a Stryker JSON report (reports/mutation/<target>.json),
// one a line: file:line:col status mutator "replacement". For triage in TESTING.md.
import { readFileSync } from "node:fs";

for (const file of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(file, "utf8"));
  // Which test file each test id belongs to, to tell the mutants only the *-mutants tests kill
  // (needs disableBail, as stryker.config.mjs sets: then killedBy lists every failing test).
  const fileOfTest = new Map();
  for (const [testFile, t] of Object.entries(report.testFiles ?? {})) for (const test of t.tests) fileOfTest.set(test.id, testFile);
  const onlyNew = (m) => m.status === "Killed" && (m.killedBy ?? []).length > 0 && m.killedBy.every((id) => /-mutants\.test\.ts$/.test(fileOfTest.get(id) ?? ""));
  for (const [name, f] of Object.entries(report.files)) {
    const counts = {};
    for (const m of f.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
    const killed = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
    const valid = f.mutants.filter((m) => !["CompileError", "RuntimeError", "Ignored", "Pending"].includes(m.status)).length;
    const byNew = f.mutants.filter(onlyNew).length;
    console.log(`# ${name}: ${f.mutants.length} mutants, ${JSON.stringify(counts)}, score ${valid ? ((100 * killed) / valid).toFixed(1) : "-"}%, killed only by *-mutants tests: ${byNew}`);
    for (const m of f.mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage").sort((a, b) => a.location.start.line - b.location.start.line)) {
      const original = f.source.split("\n")[m.location.start.line - 1].trim();
      console.log(`${name}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} ${JSON.stringify(m.replacement ?? "")}  | ${original.slice(0, 110)}`);
    }
  }
}
