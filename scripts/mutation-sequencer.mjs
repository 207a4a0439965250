// Jest test sequencer for mutation runs only (stryker.config.mjs sets it; `npm test` does not use it).
//
// Stryker's Jest runner selects the tests that reach a mutant with a test-name pattern, but Jest
// still loads every test file of the target to find out which of its tests match — about a second
// per file in ESM mode, for each mutant. This sequencer remembers, after the first (dry) run, which
// test names each file holds (and how long each took), and on a run with a name pattern keeps only the files holding a
// matching test, quickest first: a run stops at the first failing test (scripts/mutation-environment.cjs),
// so a quick file that kills the mutant saves the slow ones (Jest's own order is slowest first, to
// keep parallel workers busy; mutation runs are in band). A file it knows nothing about is kept, last.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Sequencer from "@jest/test-sequencer";

const BaseSequencer = Sequencer.default ?? Sequencer;

export default class MutationSequencer extends BaseSequencer {
  constructor(options) {
    super(options);
    this.globalConfig = options.globalConfig;
    this.namesFile = join(options.globalConfig.rootDir, ".mutation-test-names.json");
  }

  sort(tests) {
    const sorted = super.sort(tests);
    const pattern = this.globalConfig.testNamePattern;
    if (!pattern || !existsSync(this.namesFile)) return sorted;
    const files = JSON.parse(readFileSync(this.namesFile, "utf8"));
    // Jest matches the pattern against each test's full name, case-insensitively.
    const matches = new RegExp(pattern, "i");
    const cost = (test) => {
      const file = files[test.path];
      if (!file) return Infinity;
      const reaching = file.tests.filter((t) => matches.test(t.name));
      return reaching.length === 0 ? undefined : file.loadMs + reaching.reduce((ms, t) => ms + t.ms, 0);
    };
    return Promise.resolve(sorted).then((list) =>
      list.map((test) => ({ test, ms: cost(test) })).filter((c) => c.ms !== undefined).sort((a, b) => a.ms - b.ms).map((c) => c.test));
  }

  cacheResults(tests, results) {
    super.cacheResults(tests, results);
    // Only a run of every test (the dry run) says what each file holds.
    if (this.globalConfig.testNamePattern) return;
    const files = {};
    for (const file of results.testResults) {
      const tests = file.testResults.map((t) => ({ name: t.fullName, ms: t.duration ?? 0 }));
      const runMs = file.perfStats.end - file.perfStats.start;
      files[file.testFilePath] = { tests, loadMs: Math.max(0, runMs - tests.reduce((ms, t) => ms + t.ms, 0)) };
    }
    writeFileSync(this.namesFile, JSON.stringify(files));
  }
}
