/** Jest in native ESM mode (Probot 14 is ESM-only); @swc/jest strips types, `npm run typecheck` checks them. */
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022", parser: { syntax: "typescript" } }, module: { type: "es6" } }],
  },
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 30000,
  // Two test files at a time on the 2-core machine: most tests wait on I/O (Redis, the relay, real
  // servers), and Jest's default here is one. 1,539 tests: 343 s, against about 790 s with one.
  maxWorkers: 2,
};
