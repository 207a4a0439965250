import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = new URL("../..", import.meta.url).pathname;
/** The tsx loader, for running the TypeScript entry point as its own process. */
export const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

export interface SpawnedRelay {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

/**
 * Runs the real entry point (src/index.ts, what `npm start` runs once built) as its own process,
 * killed after `killAfterMs` (60 s) in case a test forgets it.
 */
export function spawnRelay(env: Record<string, string>, cwd: string, { killAfterMs = 60_000 }: { killAfterMs?: number } = {}): SpawnedRelay {
  const child = spawn(process.execPath, ["--import", TSX, join(ROOT, "src/index.ts")], {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}

/**
 * The address a spawned relay listens on, from its "relay started" log line. Start it with PORT=0:
 * it takes a free port itself at the moment it listens. A port a test picked beforehand stays free
 * only until someone else's listen(0) is handed it, and a relay process takes seconds to start:
 * with two Jest workers, another test's server got it (the stress run saw a fake GitHub answer /readyz).
 */
export async function relayUrl(relay: SpawnedRelay, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = relay.output().stdout.split("\n").find((l) => l.includes('"msg":"relay started"'));
    if (line) return (JSON.parse(line) as { url: string }).url.replace("://localhost:", "://127.0.0.1:");
    if (relay.child.exitCode !== null) throw new Error(`the relay exited (${relay.child.exitCode}) before it started: ${relay.output().stderr.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`the relay did not log "relay started" within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the entry point to its end, for start-up errors. */
export async function runRelay(env: Record<string, string>, cwd: string) {
  const relay = spawnRelay(env, cwd);
  const code = await relay.exited;
  return { code, ...relay.output() };
}

/**
 * The environment of a relay process against the fake GitHub and a test's Redis: no pacing, no
 * settle time, no reconciler, no write or points budget (the tests about those set them), logs at info.
 */
export function relayProcessEnv(o: { appId: number; privateKey: string; secret: string; githubHost: string; redisUrl: string }): Record<string, string> {
  return {
    APP_ID: String(o.appId), PRIVATE_KEY: o.privateKey, WEBHOOK_SECRET: o.secret, GHE_HOST: o.githubHost, GHE_PROTOCOL: "http", REDIS_URL: o.redisUrl,
    HOST: "127.0.0.1", LOG_LEVEL: "info",
    OPENCI_WRITE_INTERVAL_MS: "0", OPENCI_REPORT_SETTLE_MS: "0", OPENCI_RECONCILE_MS: "0", OPENCI_GITHUB_WRITES_PER_MINUTE: "0", OPENCI_GITHUB_POINTS_PER_MINUTE: "0",
  };
}

