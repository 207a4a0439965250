import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { freePort } from "../util/free-port.js";

export const INSTALL_HINT =
  "redis-server was not found: install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis";

export interface EmbeddedRedisOptions {
  /** Folder for Redis's data, log and pid file (created when missing). */
  dir: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Keep an append-only file so data survives restarts (the relay's default; tests turn it off). */
  appendOnly?: boolean;
  /** Extra redis-server arguments, e.g. ["--maxmemory-policy", "noeviction"]. */
  args?: string[];
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Finds the redis-server binary on PATH. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return (env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "redis-server")).find((p) => existsSync(p));
}

/** Starts a private redis-server bound to 127.0.0.1, owned by this process. */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const bin = findRedisServer();
  if (!bin) throw new Error(INSTALL_HINT);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  await stopStale(join(dir, "redis.pid"));
  const port = options.port ?? (await freePort());
  const child = spawn(
    bin,
    [
      "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
      "--pidfile", join(dir, "redis.pid"), "--daemonize", "no",
      "--save", "", "--appendonly", options.appendOnly === false ? "no" : "yes",
      "--maxmemory-policy", "noeviction", "--protected-mode", "yes",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await waitUntilReady(child, port);
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitUntilReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((ready, fail) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        ready();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    child.once("error", (err) => fail(new Error(`redis-server could not start: ${err.message}`)));
    child.once("exit", (code) => fail(new Error(`redis-server exited with code ${code} before accepting connections on port ${port}:\n${output.trim()}`)));
  });
}

/**
 * A relay killed with SIGKILL leaves its Redis behind, still writing the same folder; the next start
 * stops it first (only if that pid is still a redis-server, as far as /proc can tell).
 */
async function stopStale(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !isRedisServer(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5000 && isRedisServer(pid); waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("redis-server");
  } catch {
    return false;
  }
}
