#!/usr/bin/env node
// npm run test:stress: the whole suite (`npm test`) several times in a row with CPU-burning
// processes beside it, as on a shared CI machine. A test that passes only on an idle machine is
// waiting for time instead of for what it asserts; this finds it. Each run's result and duration is
// printed; its output is kept in a log file. Exits 1 if any run failed.
//
//   STRESS_RUNS=3 STRESS_BURNERS=2 npm run test:stress
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RUNS = Number(process.env.STRESS_RUNS ?? 3);
const BURNERS = Number(process.env.STRESS_BURNERS ?? 2);
const ROOT = new URL("..", import.meta.url).pathname;
const logs = mkdtempSync(join(tmpdir(), "openci-stress-"));

const burners = Array.from({ length: BURNERS }, () => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
const stopBurners = () => {
  for (const b of burners) if (b.exitCode === null) b.kill("SIGKILL");
};
process.on("exit", stopBurners);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    stopBurners();
    process.exit(130);
  });
}

/** One `npm test`, its output teed to `log`; resolves with its exit code and Jest's summary lines. */
function runSuite(log) {
  return new Promise((resolve) => {
    const out = createWriteStream(log);
    const child = spawn("npm", ["test"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let tail = "";
    const take = (chunk) => {
      out.write(chunk);
      tail = (tail + chunk.toString()).slice(-20_000);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("close", (code) => {
      out.end();
      const summary = tail.split("\n").filter((l) => /^(Test Suites|Tests):/.test(l));
      const failed = tail.split("\n").filter((l) => /^FAIL /.test(l) || /^\s+● /.test(l)).slice(0, 20);
      resolve({ code: code ?? 1, summary, failed });
    });
  });
}

console.log(`stress: ${RUNS} runs of npm test beside ${BURNERS} CPU-burning processes; logs in ${logs}`);
const results = [];
for (let i = 1; i <= RUNS; i++) {
  const started = Date.now();
  const log = join(logs, `run-${i}.log`);
  const { code, summary, failed } = await runSuite(log);
  const seconds = Math.round((Date.now() - started) / 1000);
  results.push({ run: i, passed: code === 0, seconds });
  console.log(`run ${i}: ${code === 0 ? "PASS" : `FAIL (exit ${code})`} in ${Math.floor(seconds / 60)} min ${seconds % 60} s — ${summary.join("; ") || "no Jest summary (see the log)"}`);
  for (const line of failed) console.log(`  ${line.trim()}`);
  if (code !== 0) console.log(`  log: ${log}`);
}
stopBurners();
const failures = results.filter((r) => !r.passed).length;
console.log(`stress: ${RUNS - failures} of ${RUNS} runs passed`);
process.exit(failures === 0 ? 0 : 1);
