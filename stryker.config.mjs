// Mutation testing (Stryker + its Jest runner, Jest in ESM mode). Not part of `npm test`:
// run `npm run test:mutation -- <target>` (scripts/mutation.mjs); TESTING.md has the costs and scores.
//
// Each target mutates one core folder or file and runs only the test files that exercise it in
// this process (tests that spawn the relay as its own process cannot see the active mutant, so
// they are left out: they would only cost time). The target is chosen by MUTATION_TARGET.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { targets } from "./scripts/mutation-targets.mjs";

const name = process.env.MUTATION_TARGET ?? "edge-filter";
const target = targets[name];
if (!target) throw new Error(`unknown MUTATION_TARGET ${name}; one of ${Object.keys(targets).join(", ")}`);

// MUTATION_BASELINE=1: without the tests written to kill this target's mutants (test/*/*-mutants.test.ts),
// to measure what they add.
// MUTATION_TESTS=a.test.ts,b.test.ts: only these of the target's test files (with a --mutate range).
const chosen = process.env.MUTATION_TESTS ? target.tests.filter((t) => process.env.MUTATION_TESTS.split(",").some((c) => t.endsWith(c.trim()))) : target.tests;
// MUTATION_BAIL (default 1): stop testing a mutant at its first failing test (scripts/mutation-environment.cjs);
// MUTATION_BAIL=0 runs every test that reaches it and records them all as `killedBy`.
process.env.MUTATION_BAIL ??= "1";
const bail = process.env.MUTATION_BAIL === "1";
const tests = process.env.MUTATION_BASELINE === "1" ? chosen.filter((t) => !t.endsWith("-mutants.test.ts")) : chosen;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "jest",
  testRunnerNodeArgs: ["--experimental-vm-modules"],
  jest: {
    projectType: "custom",
    configFile: "jest.config.js",
    // Only the chosen test files; longer per-test timeout than npm test's is not needed (Stryker
    // times a mutant out from the dry run's own timings).
    // The sequencer drops, for each mutant, the test files holding none of the tests that reach it.
    // The environment skips the tests left once one has failed under the mutant (MUTATION_BAIL).
    config: {
      testMatch: tests.map((t) => `<rootDir>/${t}`),
      testSequencer: "<rootDir>/scripts/mutation-sequencer.mjs",
      // absolute: Stryker's coverage wrapper require()s it from its own folder, before Jest expands <rootDir>
      testEnvironment: fileURLToPath(new URL("./scripts/mutation-environment.cjs", import.meta.url)),
    },
    enableFindRelatedTests: false,
  },
  // Per-test coverage works with Jest ESM here: each mutant runs only the tests that reach it.
  coverageAnalysis: "perTest",
  mutate: target.mutate,
  // The sandbox: node_modules is symlinked (the default), not copied; what the tests do not read is left out.
  ignorePatterns: ["bench", "demo", "docs", "deploy", "dist", "reports", "coverage", "tmp", ".data", "*.md", "mutation"],
  // With MUTATION_BAIL=0 every test that reaches a mutant runs and Stryker records each that killed it
  // (killedBy), which shows what the *-mutants tests add without a second run.
  disableBail: !bail,
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 1),
  // e2e mutants that stall a waitFor fail after its own 10 s deadline; Stryker's timeout comes on top.
  timeoutMS: 15000,
  // The initial run of a src/workers part runs every end-to-end file of its list (5-8 min on a loaded
  // machine); Stryker's default of 5 min failed workers-trigger's dry run at load 11.
  dryRunTimeoutMinutes: 30,
  timeoutFactor: 1.5,
  incrementalFile: `mutation/${name}.incremental.json`,
  // checkpoint (scripts/mutation-checkpoint.mjs): the results so far go to the incremental file every few
  // mutants, so a run stopped half-way is resumed with --incremental instead of started again.
  appendPlugins: [fileURLToPath(new URL("./scripts/mutation-checkpoint.mjs", import.meta.url))],
  reporters: ["clear-text", "progress-append-only", "html", "json", "checkpoint"],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  thresholds: { high: 80, low: 60, break: null },
  // Outside the repository, so that Jest runs started beside it (npm test) do not crawl the sandbox.
  tempDirName: process.env.STRYKER_TMP ?? join(tmpdir(), "openci-relay-stryker"),
  cleanTempDir: true,
};
