#!/usr/bin/env node
// The package's CLI. `npm ci` builds dist/ (the `prepare` script); from a source checkout without
// a build, run `npm run build` first.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/bin.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("openci-relay: dist/ is missing; run `npm run build` in the package folder first.\n");
  process.exit(2);
}
await import(built.href);
