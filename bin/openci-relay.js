#!/usr/bin/env node
// The package's CLI (`npx openci-relay …`). Runs the built CLI (dist/, made by `npm run build` or
// `npm start`); in a source checkout without a build, runs the TypeScript through tsx (a dev
// dependency), so it works right after `npm ci`.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/bin.js", import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    process.stderr.write("openci-relay: dist/ is missing and tsx is not installed; run `npm run build` in the package folder first.\n");
    process.exit(2);
  }
  tsx.register();
  await import(new URL("../src/cli/bin.ts", import.meta.url).href);
}
