// Stryker reporter plugin "checkpoint" (stryker.config.mjs adds it): writes the run's results so far
// to the target's incremental file (mutation/<target>.incremental.json) every few mutants, in the
// format Stryker's own `--incremental` reads. Stryker writes that file only when a run ends, and a run
// of src/workers takes longer than a working session (TESTING.md): without checkpoints, a run stopped
// half-way kept nothing. Now `npm run test:mutation -- <target> --incremental` after a stopped run
// reuses what was tested (Stryker retests a reused mutant when its code or its tests changed) and runs
// the rest. A run that ends normally overwrites the checkpoint with Stryker's complete report.
import { readFileSync, renameSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { PluginKind, commonTokens, declareClassPlugin } from "@stryker-mutator/api/plugin";

/** Every this many results, and at the latest this often, the checkpoint is written. */
const EVERY_RESULTS = 5;
const EVERY_MS = 60_000;

/** A path relative to the project, also for a file of Stryker's sandbox (`…/sandbox-XXXX/test/…`). */
function projectPath(fileName) {
  const inSandbox = /[\\/]sandbox-[^\\/]+[\\/](.*)$/.exec(fileName);
  return (inSandbox ? inSandbox[1] : relative(process.cwd(), fileName)).split("\\").join("/");
}

const read = (file) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

class CheckpointReporter {
  static inject = [commonTokens.options, commonTokens.logger];

  constructor(options, log) {
    this.options = options;
    this.log = log;
    this.tests = new Map(); // relative test file → { source, tests: [{ id, name, location }] }
    this.sources = new Map(); // relative mutated file → its source when the run planned its mutants
    this.results = [];
    this.writtenAt = Date.now();
  }

  onDryRunCompleted({ result }) {
    for (const test of result.tests) {
      if (!test.fileName) continue;
      const file = projectPath(test.fileName);
      // The sandbox's copy is what ran; the project's own may have been edited since.
      if (!this.tests.has(file)) this.tests.set(file, { source: read(test.fileName) ?? read(file), tests: [] });
      this.tests.get(file).tests.push({
        id: test.id,
        name: test.name,
        ...(test.startPosition ? { location: { start: { line: test.startPosition.line + 1, column: test.startPosition.column + 1 } } } : {}),
      });
    }
  }

  onMutationTestingPlanReady({ mutantPlans }) {
    for (const { mutant } of mutantPlans) {
      const file = projectPath(mutant.fileName);
      if (!this.sources.has(file)) this.sources.set(file, read(resolve(file)) ?? "");
    }
  }

  onMutantTested(result) {
    this.results.push(result);
    if (this.results.length % EVERY_RESULTS === 0 || Date.now() - this.writtenAt > EVERY_MS) this.write();
  }

  write() {
    if (!this.options.incremental) return;
    const files = {};
    for (const r of this.results) {
      const file = projectPath(r.fileName);
      files[file] ??= { language: "typescript", source: this.sources.get(file) ?? read(resolve(file)) ?? "", mutants: [] };
      const { fileName: _f, ...mutant } = r;
      files[file].mutants.push(mutant);
    }
    const report = {
      schemaVersion: "1.0",
      thresholds: this.options.thresholds,
      projectRoot: process.cwd(),
      files,
      testFiles: Object.fromEntries(this.tests),
    };
    const target = resolve(this.options.incrementalFile);
    mkdirSync(dirname(target), { recursive: true });
    // Written aside and renamed: a run killed while writing leaves the last whole checkpoint.
    writeFileSync(`${target}.partial`, JSON.stringify(report));
    renameSync(`${target}.partial`, target);
    this.writtenAt = Date.now();
    this.log.debug("checkpoint: %d results in %s", this.results.length, this.options.incrementalFile);
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, "checkpoint", CheckpointReporter)];
