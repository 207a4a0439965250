import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

/** A spawned test server's life after its folder is made: the part every helper for one is the same in. */
export interface ServerProcess {
  /** SIGTERM (SIGKILL after 5 s), then removes the server's folder: the end of it */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the folder stays for `restart()` */
  kill(): Promise<void>;
  /** starts the server again with the same folder (ending the running one first, if any) */
  restart(): Promise<void>;
  /** the running process, if any (to pause it, say) */
  child(): ChildProcess | undefined;
}

/**
 * Starts a server: `launch` spawns it, `ready` resolves once it serves (and rejects, saying why,
 * when it cannot). A first start that fails kills what it spawned and removes `dir`. Ending sends
 * SIGCONT before the signal, so a paused (SIGSTOP) server acts on it too.
 */
export async function startServerProcess(dir: string, launch: () => ChildProcess, ready: (child: ChildProcess) => Promise<void>): Promise<ServerProcess> {
  let running: ChildProcess | undefined;

  const start = async () => {
    const child = launch();
    running = child;
    await ready(child);
  };
  const end = async (signal: NodeJS.Signals) => {
    const child = running;
    running = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill("SIGCONT");
    child.kill(signal);
    const timer = signal === "SIGKILL" ? undefined : setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start().catch(async (err: unknown) => {
    await end("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    stop: async () => {
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => end("SIGKILL"),
    restart: async () => {
      await end("SIGTERM");
      await start();
    },
    child: () => running,
  };
}

/**
 * Resolves once what `child` logged (stdout and stderr) satisfies `isReady`, then lets the rest
 * drain unread; rejects with the output when it exits first, or when it cannot be started at all.
 */
export function loggedReady(child: ChildProcess, isReady: (output: string) => boolean, says: { exited: (code: number | null, output: string) => string; failed: (err: Error) => string }): Promise<void> {
  return new Promise((done, fail) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!isReady(output)) return;
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.stdout?.resume();
      child.stderr?.resume();
      child.off("exit", onExit);
      done();
    };
    const onExit = (code: number | null) => fail(new Error(says.exited(code, output.trim())));
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (err) => fail(new Error(says.failed(err))));
  });
}
