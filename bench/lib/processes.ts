import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runArgs } from "./built.js";
import { sleep } from "./stats.js";

const KEEP_OUTPUT = 64 * 1024;

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  /** the last 64 KB the process wrote to stdout and stderr */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM (the relay shuts down cleanly and writes its CPU profile), SIGKILL after 15 s. */
  stop(): Promise<void>;
  /** Resident set size (VmRSS) in kB, or undefined once exited. */
  rssKb(): number | undefined;
}

export interface SpawnOptions {
  cwd: string;
  /** run with --cpu-prof, writing the profile into this folder on exit */
  cpuProfDir?: string | undefined;
}

/**
 * Runs an entry point (the relay's src/index.ts, or a bench process) as its own Node process: its
 * built form by default, the source through tsx with BENCH_SOURCE=1 (bench/lib/built.ts). Unlike
 * test/helpers/spawn-relay.ts no kill timer: a bench run lasts minutes and stops its processes itself.
 */
export function spawnNode(name: string, script: string, env: Record<string, string>, o: SpawnOptions): NodeProcess {
  const profile = o.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir(o.cpuProfDir, name)] : [];
  const child = spawn(process.execPath, [...profile, ...runArgs(script)], {
    cwd: o.cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    // Keep the last 64 KB, from a line's start.
    if (output.length > KEEP_OUTPUT) output = output.slice(output.indexOf("\n", output.length - KEEP_OUTPUT) + 1);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    name,
    child,
    output: () => output,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
    rssKb: () => (child.pid === undefined ? undefined : rssKb(child.pid)),
  };
}

function profileDir(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** VmRSS of a process from /proc/<pid>/status, in kB. */
export function rssKb(pid: number): number | undefined {
  try {
    const line = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (10 ms ticks). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1)!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
/** USER_HZ: 100 on Linux on every architecture Node supports. */
const CLOCK_TICKS = 100;

/** Polls `check` until true; fails with the process's output if it exits first or after `timeoutMs`. */
export async function waitUntil(what: string, p: NodeProcess, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void p.exited.then(() => (gone = true));
  for (;;) {
    if (await check().catch(() => false)) return;
    if (gone || Date.now() > deadline) {
      throw new Error(`${p.name}: ${gone ? "exited" : `not ${what} after ${timeoutMs} ms`} before ${what}:\n${p.output().trim()}`);
    }
    await sleep(50);
  }
}

/** Samples the RSS of some processes every `everyMs` until stopped; reports each one's peak. */
export function sampleRss(processes: NodeProcess[], everyMs = 250) {
  const peak = new Map<string, number>();
  const take = () => {
    for (const p of processes) {
      const kb = p.rssKb();
      if (kb !== undefined) peak.set(p.name, Math.max(peak.get(p.name) ?? 0, kb));
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: (): Map<string, number> => {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

/**
 * What processes said at warn level or above (they run with LOG_LEVEL=warn), worth a look in a
 * report: each distinct message once, with how often it came.
 */
export function complaints(processes: NodeProcess[]): string[] {
  return processes.flatMap((p) => {
    const counts = new Map<string, number>();
    for (const line of p.output().split("\n").filter((l) => l.trim() !== "")) {
      const said = describe(line);
      counts.set(said, (counts.get(said) ?? 0) + 1);
    }
    return [...counts].map(([said, n]) => `${p.name} logged${n > 1 ? ` ${n} times` : ""}: ${said}`);
  });
}

/** A pino line as "msg (err message)", anything else as it is; at most 200 characters. */
function describe(line: string): string {
  try {
    const { msg, err } = JSON.parse(line) as { msg?: string; err?: string | { message?: string } };
    const why = typeof err === "string" ? err : err?.message;
    return `${msg ?? ""}${why ? ` (${why})` : ""}`.slice(0, 200);
  } catch {
    return line.trim().slice(0, 200);
  }
}
