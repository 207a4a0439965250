import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/util/free-port.js";
import { startServerProcess } from "./server-process.js";

/**
 * A private Mosquitto broker (Debian's /usr/sbin/mosquitto, MQTT 3.1.1 and 5) for one test file:
 * `mosquitto -c <conf>` with `listener <port> 127.0.0.1` on a free port (never the machine's own
 * 1883), its config, password file and persistence in a temporary folder. Persistence is on and
 * saved on every change (`autosave_on_changes`, `autosave_interval 1`), so a broker killed and
 * restarted keeps the sessions and queued QoS 1 messages it had saved: about as durable as
 * Mosquitto gets, which never syncs each message to disk.
 */
export interface Mosquitto {
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  /** the broker's folder (config, password file, persistence) */
  dir: string;
  /** everything the broker logged since it was first started (connections with their protocol: `p5` MQTT 5, `p2` 3.1.1) */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s), then removes the folder: the end of it */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the folder stays for `restart()` */
  kill(): Promise<void>;
  /** starts the broker again on the same port and folder (stopping it first if it still runs) */
  restart(): Promise<void>;
  /** SIGSTOP: the broker keeps its connections open and answers nothing (a hung broker) until `resume()` */
  pause(): void;
  /** SIGCONT after `pause()` */
  resume(): void;
}

export interface MosquittoOptions {
  /** user name → password; when given, anonymous clients are refused */
  users?: Record<string, string>;
}

const BINARY = "/usr/sbin/mosquitto";
const LOG_LIMIT = 1 << 20;

export async function startMosquitto(o: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), "openci-mosquitto-"));
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  mkdirSync(join(dir, "data"));
  const lines = [
    `listener ${port} 127.0.0.1`,
    `persistence true`,
    `persistence_location ${join(dir, "data")}/`,
    `autosave_interval 1`,
    `autosave_on_changes true`,
    `log_dest stderr`,
    `log_type error`, `log_type warning`, `log_type notice`, `log_type information`,
    `connection_messages true`,
  ];
  // Run as root, Mosquitto switches to its own user, who could not read this root-only folder.
  if (process.getuid?.() === 0) lines.push("user root");
  if (o.users) {
    const passwords = join(dir, "passwd");
    writePasswordFile(passwords, o.users);
    lines.push("allow_anonymous false", `password_file ${passwords}`);
  } else {
    lines.push("allow_anonymous true");
  }
  writeFileSync(conf, `${lines.join("\n")}\n`);

  let output = "";
  const launch = () => {
    const proc = spawn(BINARY, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    const record = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-LOG_LIMIT);
    };
    proc.stdout?.on("data", record);
    proc.stderr?.on("data", record);
    return proc;
  };
  const up = async (proc: ChildProcess) => {
    const failed = new Promise<never>((_, fail) => {
      proc.once("error", (err) => fail(new Error(`mosquitto could not start (${BINARY}: apt-get install mosquitto): ${err.message}`)));
      proc.once("exit", (code, signal) => fail(new Error(`mosquitto exited (${code ?? signal}) before listening on 127.0.0.1:${port}:\n${output.trim()}`)));
    });
    failed.catch(() => undefined); // only raced while starting
    await Promise.race([listening(port), failed]);
  };
  const { stop, kill, restart, child } = await startServerProcess(dir, launch, up);

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    log: () => output,
    stop,
    kill,
    restart,
    pause: () => void child()?.kill("SIGSTOP"),
    resume: () => void child()?.kill("SIGCONT"),
  };
}

/**
 * Mosquitto's password file, hashed by `mosquitto_passwd -b` when it is installed; otherwise written
 * here in the same format (`$7$`: PBKDF2-HMAC-SHA512, 101 iterations, base64 salt and hash).
 */
function writePasswordFile(file: string, users: Record<string, string>): void {
  const entries = Object.entries(users);
  let made = true;
  entries.forEach(([user, password], i) => {
    if (!made) return;
    const r = spawnSync("mosquitto_passwd", [...(i === 0 ? ["-c"] : []), "-b", file, user, password], { stdio: "ignore" });
    made = r.status === 0;
  });
  if (made) return;
  writeFileSync(file, entries.map(([user, password]) => {
    const salt = randomBytes(12);
    const hash = pbkdf2Sync(password, salt, 101, 64, "sha512");
    return `${user}:$7$101$${salt.toString("base64")}$${hash.toString("base64")}\n`;
  }).join(""), { mode: 0o600 });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (polled every 25 ms, for 10 s). */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), done(true)));
      socket.once("error", () => (socket.destroy(), done(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within 10 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
