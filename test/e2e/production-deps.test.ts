import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";

const ROOT = new URL("../..", import.meta.url).pathname;

interface Summary {
  ok: boolean;
  tmp: string | undefined;
  removed: boolean;
  pids: { relays: number[]; redis?: number };
  checks: { name: string; ok: boolean; detail?: unknown }[];
  error?: string;
}

let check: ChildProcess | undefined;
afterAll(() => {
  // On a timeout the script is still running: SIGTERM makes it kill its processes and remove its folder.
  if (check && check.exitCode === null) check.kill("SIGTERM");
});

/** scripts/check-image.mjs: the Dockerfile's runtime stage performed for real, then started. */
function runImageCheck(): Promise<{ code: number | null; summary: Summary; log: string }> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _, ...env } = process.env;
    check = spawn(process.execPath, [join(ROOT, "scripts/check-image.mjs")], { cwd: ROOT, env });
    let stdout = "";
    let log = "";
    check.stdout!.on("data", (c) => (stdout += c));
    check.stderr!.on("data", (c) => (log += c));
    check.once("error", reject);
    check.once("close", (code) => {
      try {
        resolve({ code, summary: JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Summary, log });
      } catch {
        reject(new Error(`scripts/check-image.mjs printed no summary (exit ${code}):\n${log}`));
      }
    });
  });
}

const alive = (pid: number | undefined) => pid === undefined || existsSync(`/proc/${pid}`);

describe("the Docker image's runtime stage, performed without a Docker engine", () => {
  it("starts from production dependencies only, answers /readyz, stops on SIGTERM and leaves nothing behind", async () => {
    const { code, summary, log } = await runImageCheck();

    expect({ code, error: summary.error, failed: summary.checks.filter((c) => !c.ok) }).toEqual({ code: 0, error: undefined, failed: [] });
    expect(summary.checks.map((c) => c.name)).toEqual(expect.arrayContaining([
      "no package the lockfile marks dev-only is installed",
      "package.json's overrides are honoured",
      "dist/ imports only node built-ins and package.json dependencies",
      "the image runs as a non-root user",
      "GET /readyz answers 200 (Redis reachable)",
      "the HEALTHCHECK command succeeds",
      "a worker-only process answers GET /readyz 200 on PORT",
      "SIGTERM stops the relay (OPENCI_ROLE=all) with exit code 0",
      "SIGTERM stops the relay (OPENCI_ROLE=worker) with exit code 0",
    ]));
    expect(log).toContain("npm ci --omit=dev");
    expect(summary.tmp).toMatch(/openci-image-/);
    expect(existsSync(summary.tmp!)).toBe(false);
    expect(summary.pids.relays).toHaveLength(3);
    expect([...summary.pids.relays, summary.pids.redis].filter(alive)).toEqual([]);
  }, 300_000);
});
