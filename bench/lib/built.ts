import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { ROOT, TSX } from "../../test/helpers/spawn-relay.js";

/**
 * What the bench's processes run. By default what production runs: the relay built into `dist/`
 * by `npm run build` (`tsc -p tsconfig.build.json`) and started as `npm start` starts it, `node
 * dist/index.js`; the baselines (bench/bare-probot.ts) transpiled by the same TypeScript and run by
 * plain `node` too, so that neither side carries tsx's loader and its compiled modules (issue 22:
 * 35–45 MB of the relay's idle memory were tsx's). `BENCH_SOURCE=1` runs the sources through tsx
 * instead, as before, to try a change without a build.
 */
export const FROM_SOURCE = process.env.BENCH_SOURCE === "1";

/** Where the transpiled baselines go: under node_modules, so that their imports resolve as the sources' do. */
const BENCH_OUT = join(ROOT, "node_modules", ".cache", "openci-bench");
/** The bench's scripts that are not the relay, transpiled one file each (they import packages only). */
const STANDALONE = ["bench/bare-probot.ts"];

let building: Promise<void> | undefined;

/** Builds once per bench run (a stale `dist/` would measure old code): about 20 s. */
export function buildOnce(): Promise<void> {
  if (FROM_SOURCE) return Promise.resolve();
  building ??= Promise.resolve().then(() => {
    const t0 = Date.now();
    console.log("bench: building dist/ (npm run build) and the baselines; BENCH_SOURCE=1 runs the sources through tsx instead");
    execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
    mkdirSync(BENCH_OUT, { recursive: true });
    for (const script of STANDALONE) {
      const { outputText, diagnostics } = ts.transpileModule(readFileSync(join(ROOT, script), "utf8"), {
        fileName: script, reportDiagnostics: true,
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, sourceMap: false },
      });
      if (diagnostics?.length) throw new Error(`${script}: ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, "\n")}`);
      writeFileSync(builtPath(script), outputText);
    }
    console.log(`bench: built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
  return building;
}

/** node's arguments to run a script of the repository (`src/index.ts`, `bench/bare-probot.ts`). */
export function runArgs(script: string): string[] {
  if (FROM_SOURCE) return ["--import", TSX, join(ROOT, script)];
  if (script === "src/index.ts") return [join(ROOT, "dist", "index.js")];
  if (STANDALONE.includes(script)) return [builtPath(script)];
  throw new Error(`bench: no built form of ${script}; add it to STANDALONE in bench/lib/built.ts`);
}

function builtPath(script: string): string {
  return join(BENCH_OUT, script.replace(/\//g, "-").replace(/\.ts$/, ".js"));
}

/** How the generated blocks name what ran. */
export const RELAY_RUNS = FROM_SOURCE ? "`src/index.ts` through tsx (BENCH_SOURCE=1)" : "`node dist/index.js`, as `npm start`";
