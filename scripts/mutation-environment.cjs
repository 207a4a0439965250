// Jest test environment for mutation runs only (stryker.config.mjs sets it; `npm test` does not use it).
//
// Stryker stops testing a mutant at the first failing test (its default, "bail"), but its Jest runner
// cannot ask Jest to: Jest's own `bail` counts failed files and the runner turns it off. So every test
// that reaches a mutant runs even after the first has killed it — for an end-to-end test, seconds
// each. This environment skips the rest once a test has failed under the active mutant: the tests of
// the file still to come, and every test (with its beforeAll) of the files after it. Stryker reads a
// skipped test as not run; the failed one already killed the mutant.
//
// It only acts when MUTATION_BAIL=1 (set by stryker.config.mjs) and a mutant is active; the dry run
// and runs without a mutant are untouched.
const NodeEnvironment = require("jest-environment-node").TestEnvironment;

const ACTIVE = "__STRYKER_ACTIVE_MUTANT__";
/** the mutant a test has already failed under (this module is loaded once per test runner process) */
let failedUnder;

const skipAll = (block) => {
  for (const child of block.children) {
    if (child.type === "test") child.mode = "skip";
    else skipAll(child);
  }
};

class MutationEnvironment extends NodeEnvironment {
  async handleTestEvent(event, state) {
    const mutant = process.env[ACTIVE];
    if (process.env.MUTATION_BAIL !== "1" || mutant === undefined) return;
    if (event.name === "run_start" && failedUnder === mutant) skipAll(state.rootDescribeBlock);
    if (event.name === "test_start" && failedUnder === mutant) event.test.mode = "skip";
    if ((event.name === "test_done" && event.test.errors.length > 0) || event.name === "hook_failure") failedUnder = mutant;
  }
}

module.exports = MutationEnvironment;
