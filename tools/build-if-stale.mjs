#!/usr/bin/env node
// `npm start`'s prestart: compiles src/ into dist/ only when something the build reads changed
// since the last good build (dist/.build-stamp, written after tsc succeeds), so an unchanged
// checkout starts at once. A failed build leaves no stamp: the next start builds again.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const STAMP = "dist/.build-stamp";
const INPUTS = ["src", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];

/** The newest modification time below `path` (a file or a folder). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

const built = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
const changed = Math.max(...INPUTS.map(newest));
if (built > changed && existsSync("dist/index.js")) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.error("src/ changed since the last build and TypeScript is not installed: run `npm ci` (with dev dependencies), or `npm run build` where it is.");
  process.exit(1);
}
console.error(existsSync(STAMP) ? "src/ changed: building dist/ …" : "building dist/ (first start) …");
const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
