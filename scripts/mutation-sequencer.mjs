// Jest test sequencer for mutation runs only (stryker.config.mjs sets it; `npm test` does not use it).
//
// Stryker's Jest runner selects the tests that reach a mutant with a test-name pattern, but Jest
// still loads every test file of the target to find out which of its tests match — about a second
// per file in ESM mode, for each mutant. This sequencer remembers, after the first (dry) run, which
// test names each file holds, and on a run with a name pattern keeps only the files holding a
// matching test. A file it knows nothing about is kept, so at worst it changes nothing.
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
    const names = JSON.parse(readFileSync(this.namesFile, "utf8"));
    // Jest matches the pattern against each test's full name, case-insensitively.
    const matches = new RegExp(pattern, "i");
    const keep = (test) => !(test.path in names) || names[test.path].some((n) => matches.test(n));
    return Promise.resolve(sorted).then((list) => list.filter(keep));
  }

  cacheResults(tests, results) {
    super.cacheResults(tests, results);
    // Only a run of every test (the dry run) says what each file holds.
    if (this.globalConfig.testNamePattern) return;
    const names = {};
    for (const file of results.testResults) names[file.testFilePath] = file.testResults.map((t) => t.fullName);
    writeFileSync(this.namesFile, JSON.stringify(names));
  }
}
