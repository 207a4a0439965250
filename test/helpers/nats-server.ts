import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/util/free-port.js";
import { loggedReady, startServerProcess } from "./server-process.js";

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
  const { stop, kill, restart } = await startServerProcess(dir,
    () => spawn("nats-server", ["-c", config, "-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port), "-n", `openci-test-${port}`],
      { stdio: ["ignore", "pipe", "pipe"] }),
    (child) => loggedReady(child, (output) => output.includes("Server is ready"), {
      exited: (code, output) => `nats-server exited with code ${code} before it was ready on port ${port}:\n${output}`,
      failed: (err) => `nats-server could not start (Debian: apt-get install nats-server): ${err.message}`,
    }));
  return { port, url: `nats://127.0.0.1:${port}`, storeDir, stop, kill, restart };
}

/** The config file's authorization block; JSON strings are valid NATS config strings. */
function authorization(o: NatsServerOptions): string {
  if (o.token !== undefined) return `authorization { token: ${JSON.stringify(o.token)} }\n`;
  if (o.user !== undefined) return `authorization { user: ${JSON.stringify(o.user)}, password: ${JSON.stringify(o.password ?? "")} }\n`;
  return "";
}
