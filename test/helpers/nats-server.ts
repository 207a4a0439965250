import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/util/free-port.js";

export interface TestNatsServer {
  port: number;
  /** nats://127.0.0.1:<port>, without credentials */
  url: string;
  /** JetStream's store: kept across restart(), removed by stop() */
  storeDir: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and removes its folder. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: nothing flushed, the folder kept for restart(). */
  kill(): Promise<void>;
  /** Starts a new server on the same port and store (stopping the running one first): JetStream data survives. */
  restart(): Promise<void>;
}

export interface NatsServerOptions {
  /** clients must present this token */
  token?: string;
  /** clients must present this user and password */
  user?: string;
  password?: string;
}

/**
 * A private `nats-server -js` on a free loopback port with its own store folder (never the
 * machine's 4222), no HTTP monitor. Credentials go in a config file, not on the command line.
 */
export async function startNatsServer(o: NatsServerOptions = {}): Promise<TestNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "openci-nats-"));
  const storeDir = join(dir, "jetstream");
  const config = join(dir, "nats.conf");
  writeFileSync(config, authorization(o), { mode: 0o600 });
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn("nats-server", ["-c", config, "-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port), "-n", `openci-test-${port}`],
      { stdio: ["ignore", "pipe", "pipe"] });
    await ready(child, port);
  };
  const end = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((done) => running.once("exit", () => done()));
    running.kill(signal);
    const timer = setTimeout(() => running.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    stop: async () => {
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => end("SIGKILL"),
    restart: async () => {
      await end("SIGTERM");
      await start();
    },
  };
}

/** The config file's authorization block; JSON strings are valid NATS config strings. */
function authorization(o: NatsServerOptions): string {
  if (o.token !== undefined) return `authorization { token: ${JSON.stringify(o.token)} }\n`;
  if (o.user !== undefined) return `authorization { user: ${JSON.stringify(o.user)}, password: ${JSON.stringify(o.password ?? "")} }\n`;
  return "";
}

/** Resolves on the server's "Server is ready" log line (it logs to stderr); fails with its output if it exits first. */
function ready(child: ChildProcess, port: number): Promise<void> {
  return new Promise((done, fail) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Server is ready")) {
        child.stderr?.off("data", onData);
        child.off("exit", onExit);
        child.stderr?.resume();
        done();
      }
    };
    const onExit = (code: number | null) => fail(new Error(`nats-server exited with code ${code} before it was ready on port ${port}:\n${output.trim()}`));
    child.stdout?.resume();
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (err) => fail(new Error(`nats-server could not start (Debian: apt-get install nats-server): ${err.message}`)));
  });
}
