import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "../../src/util/free-port.js";
import { waitFor } from "./wait-for.js";

/** Debian's rabbitmq-server (/usr/sbin/rabbitmq-server wraps it in `su rabbitmq`, which a private node must not). */
const SERVER_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const READY_TIMEOUT_MS = 30_000;

export interface TestRabbitmq {
  /** the AMQP port on 127.0.0.1 */
  port: number;
  /** as a subscriber writes it: no credentials (the transport takes them from *_env), the default vhost */
  url: string;
  /** with RabbitMQ's default guest/guest, for the test's own clients (guest may connect from localhost) */
  guestUrl: string;
  /** the node's folder: data (mnesia), logs, config */
  dir: string;
  /** Stops the node for good (SIGKILL: nothing of it is kept) and deletes its folder. */
  stop(): Promise<void>;
  /** SIGKILLs the node and everything it started (beam.smp, erl_child_setup, inet_gethost, epmd); the folder is kept. */
  kill(): Promise<void>;
  /** Starts the node again on the same port and folder (killing it first if it runs): durable exchanges and queues and their persistent messages are back. */
  restart(): Promise<void>;
}

/**
 * A private RabbitMQ node for one test file, never the machine's: its own node name, AMQP port,
 * distribution port and epmd (ERL_EPMD_PORT; the machine's epmd on 4369 is never used), all on
 * 127.0.0.1, and its own folder for data, logs, config, plugins list and Erlang cookie (HOME).
 *
 * Start-up is about 3 s (1.5 of which is the Erlang VM and RabbitMQ's prelaunch): RabbitMQ scans
 * every app in its plugins folder at boot, so the node gets a folder of its own that links only
 * the libraries the broker itself needs (no `rabbitmq_*` plugins besides prelaunch), which saves ~1 s.
 */
export async function startRabbitmq(): Promise<TestRabbitmq> {
  if (!existsSync(SERVER_SCRIPT)) throw new Error(`${SERVER_SCRIPT} was not found: install RabbitMQ (Debian/Ubuntu: sudo apt-get install rabbitmq-server)`);
  const dir = mkdtempSync(join(tmpdir(), "openci-rabbitmq-"));
  const [port, distPort, epmdPort] = await distinctFreePorts(3);
  const node = `openci-test-${process.pid}-${randomBytes(3).toString("hex")}@localhost`;
  prepareFolder(dir, port!);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir, // the Erlang cookie is written here, not in the user's home
    LANG: "C.UTF-8",
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    // the machine's /etc/rabbitmq/rabbitmq-env.conf names the machine's node: never read it
    RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_PLUGINS_DIR: join(dir, "plugins"),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_PID_FILE: join(dir, "rabbitmq.pid"),
    RABBITMQ_LOGS: "-", // to stdout, kept for the error when the node does not start
  };

  let running: Running | undefined;
  const boot = async () => {
    running = await bootNode(env, epmdPort!, port!);
  };
  const halt = async () => {
    const r = running;
    running = undefined;
    if (r) await r.kill();
  };
  await boot().catch(async (err) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const url = `amqp://127.0.0.1:${port}/%2F`;
  return {
    port: port!,
    url,
    guestUrl: `amqp://guest:guest@127.0.0.1:${port}/%2F`,
    dir,
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    kill: halt,
    restart: async () => {
      await halt();
      await boot();
    },
  };
}

interface Running {
  kill(): Promise<void>;
}

/** Starts epmd, then the node; resolves once the node answers AMQP on `port`. */
async function bootNode(env: NodeJS.ProcessEnv, epmdPort: number, port: number): Promise<Running> {
  // epmd in the foreground, as our child: if the node had to start one, it would be `epmd -daemon`,
  // which leaves the node's process group and would outlive every test.
  const epmd = spawn("epmd", ["-port", String(epmdPort), "-address", "127.0.0.1"], { env, stdio: "ignore", detached: true });
  const server = spawn(SERVER_SCRIPT, [], { env, cwd: env.HOME, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  server.stdout?.on("data", keep);
  server.stderr?.on("data", keep);
  const exited = exitOf(server);
  const epmdExited = exitOf(epmd);
  const kill = async () => {
    // erl_child_setup and inet_gethost are the node's children in sessions of their own: a
    // process-group kill would miss them, so every descendant is found first and killed too.
    const pids = [...descendants(server.pid), ...descendants(epmd.pid)];
    signalGroup(server, "SIGKILL");
    signalGroup(epmd, "SIGKILL");
    for (const pid of pids) signal(pid, "SIGKILL");
    await Promise.all([exited, epmdExited]);
    await waitFor("the RabbitMQ node's processes to be gone", () => pids.every((pid) => !alive(pid)), 5000);
  };
  try {
    await Promise.race([
      waitFor(`RabbitMQ to accept AMQP on 127.0.0.1:${port}`, () => speaksAmqp(port), READY_TIMEOUT_MS),
      exited.then(() => {
        throw new Error("exited");
      }),
    ]);
  } catch (err) {
    await kill();
    throw new Error(`RabbitMQ did not start (${(err as Error).message}):\n${output.trim().split("\n").slice(-30).join("\n")}`);
  }
  server.stdout?.off("data", keep);
  server.stdout?.resume();
  server.stderr?.resume();
  return { kill };
}

/** The node's config: loopback only, and no disk alarm (a nearly full CI disk must not block publishers). */
function prepareFolder(dir: string, port: number): void {
  writeFileSync(join(dir, "rabbitmq-env.conf"), "");
  writeFileSync(join(dir, "enabled_plugins"), "[].\n");
  writeFileSync(join(dir, "rabbitmq.conf"), [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    "disk_free_limit.absolute = 1",
    "",
  ].join("\n"));
  const plugins = join(dir, "plugins");
  mkdirSync(plugins);
  const installed = join(dirname(realpathSync(SERVER_SCRIPT)), "..", "plugins");
  for (const entry of readdirSync(installed)) {
    if (entry === "README" || (entry.startsWith("rabbitmq_") && !entry.startsWith("rabbitmq_prelaunch-"))) continue;
    symlinkSync(join(installed, entry), join(plugins, entry));
  }
}

/** True once something on `port` answers the AMQP 0-9-1 header with a frame (connection.start): the node is up. */
function speaksAmqp(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      answer(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])));
    socket.once("data", (chunk: Buffer) => done(chunk[0] === 1));
  });
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once("exit", () => done()));
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    signal(child.pid, sig);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Alive and not a zombie waiting for its (new) parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Every process below `root`, from /proc (parent ids), whatever session or group they moved to. */
function descendants(root: number | undefined): number[] {
  if (root === undefined) return [];
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
