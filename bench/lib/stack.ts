import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";
import { freePort } from "../../src/util/free-port.js";
import { FakeGithub, type FakeRepo } from "../../test/fakes/github/fake-github.js";
import { appPrivateKey } from "../../test/helpers/keys.js";
import { ForgeConditionsProxy, type ForgeConditions } from "../forge-conditions.js";
import { WEBHOOK_SECRET } from "./deliveries.js";
import { buildOnce } from "./built.js";
import { spawnNode, waitUntil, type NodeProcess } from "./processes.js";

export const APP_ID = 4242;

/** Env the relay reads to run against the stack: no reconciler (it lists every upstream's tags), warnings only. */
const relayDefaults = {
  APP_ID: String(APP_ID), WEBHOOK_SECRET, GHE_PROTOCOL: "http", HOST: "127.0.0.1",
  OPENCI_RECONCILE_MS: "0", LOG_LEVEL: "warn",
};

/** No pacing and no write budgets: what is measured is the relay, not GitHub's limits. */
export const NO_RATE_LIMIT = { OPENCI_WRITE_INTERVAL_MS: "0", OPENCI_GITHUB_WRITES_PER_MINUTE: "0", OPENCI_GITHUB_POINTS_PER_MINUTE: "0" };

export interface StackOptions {
  /** the dependency map (YAML) */
  map: string;
  repos: Record<string, FakeRepo>;
  /** env of every relay process, over the defaults above */
  env?: Record<string, string>;
  /** a latency or a write budget, by a proxy in front of the fake GitHub */
  forge?: ForgeConditions;
  cpuProfDir?: string | undefined;
}

export interface WebProcess extends NodeProcess {
  url: string;
}

const live = new Set<Stack>();

/** Stops every stack still running (on Ctrl-C, or an error that skipped a `finally`). */
export async function stopAllStacks(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop()));
}

/**
 * One private redis-server (never 6379; append-only file as `npm start` keeps it), the fake
 * GitHub of the tests (optionally behind forge conditions), a map file, and the processes started
 * on them: the relay's web and worker roles (src/index.ts) and the bare Probot baselines.
 */
export class Stack {
  readonly processes: NodeProcess[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly redis: EmbeddedRedis,
    readonly redisClient: Redis,
    readonly github: FakeGithub,
    readonly proxy: ForgeConditionsProxy | undefined,
    private readonly o: StackOptions,
  ) {}

  private readonly queues = new Map<keyof typeof QUEUES, Queue>();

  static async start(name: string, o: StackOptions): Promise<Stack> {
    await buildOnce();
    const dir = mkdtempSync(join(tmpdir(), `openci-bench-${name}-`));
    writeFileSync(join(dir, "openci-map.yml"), o.map);
    const parts: { redis?: EmbeddedRedis; github?: FakeGithub; proxy?: ForgeConditionsProxy } = {};
    try {
      parts.redis = await startEmbeddedRedis({ dir: join(dir, "redis"), appendOnly: true });
      parts.github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: o.repos });
      parts.proxy = o.forge ? await ForgeConditionsProxy.start(parts.github.host, o.forge) : undefined;
    } catch (error) {
      await parts.github?.stop();
      await parts.redis?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const stack = new Stack(name, dir, parts.redis, new Redis(parts.redis.url, { maxRetriesPerRequest: null }), parts.github, parts.proxy, o);
    live.add(stack);
    return stack;
  }

  /** host:port the relay calls GitHub at: the proxy when there are forge conditions. */
  get forgeHost(): string {
    return this.proxy?.host ?? this.github.host;
  }

  /** A queue of the relay's, for counting its jobs: one object per queue, closed when the stack stops. */
  queue(name: keyof typeof QUEUES): Queue {
    let q = this.queues.get(name);
    if (!q) this.queues.set(name, (q = new Queue(QUEUES[name], { connection: this.redisClient, prefix: KEY_PREFIX })));
    return q;
  }

  /** How many jobs a queue of the relay's holds, in any state. */
  async jobCount(name: keyof typeof QUEUES): Promise<number> {
    return Object.values(await this.queue(name).getJobCounts()).reduce((a, b) => a + b, 0);
  }

  /** Waits until a queue of the relay's holds no job still to run (waiting, delayed, prioritised or active), looking every `pollMs`. */
  async drained(name: keyof typeof QUEUES, timeoutMs = 60_000, pollMs = 100): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await this.queue(name).getJobCounts("waiting", "delayed", "prioritized", "active");
      if (Object.values(counts).every((n) => n === 0)) return;
      if (Date.now() > deadline) throw new Error(`the ${name} queue still holds ${JSON.stringify(counts)} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** The relay's web role, ready (its /readyz answers 200). */
  async startWeb(name = "relay-web"): Promise<WebProcess> {
    const port = await freePort();
    const p = this.spawn(name, "src/index.ts", { ...this.relayEnv(), OPENCI_ROLE: "web", PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    await waitUntil("ready", p, async () => (await fetch(`${url}/readyz`)).status === 200);
    return { ...p, url };
  }

  /** `n` more worker-role processes (health and metrics on any free port), ready: their BullMQ workers connected. */
  async startWorkers(n: number, name = "relay-worker"): Promise<NodeProcess[]> {
    const events = this.queue("events");
    const before = await events.getWorkersCount();
    const started = Array.from({ length: n }, (_, i) => this.spawn(`${name}-${this.processes.length + i}`, "src/index.ts", { ...this.relayEnv(), OPENCI_ROLE: "worker", PORT: "0" }));
    for (const p of started) await waitUntil("ready", p, async () => (await events.getWorkersCount()) >= before + n);
    return started;
  }

  /** A bare Probot baseline process (bench/bare-probot.ts). */
  async startBare(role: "ingest" | "web" | "worker" | "reporter", extra: Record<string, string> = {}): Promise<WebProcess> {
    const port = await freePort();
    const p = this.spawn(`bare-${role}`, "bench/bare-probot.ts", {
      BARE_ROLE: role, APP_ID: String(APP_ID), PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET, GHE_HOST: this.forgeHost,
      REDIS_URL: this.redis.url, PORT: String(port), ...extra,
    });
    const url = `http://127.0.0.1:${port}`;
    if (role === "ingest" || role === "web") await waitUntil("listening", p, async () => (await fetch(`${url}/ping`)).status === 200);
    return { ...p, url };
  }

  /**
   * Stops every process (SIGTERM, so CPU profiles are written), the proxy, the fake and Redis, and
   * removes the folder. A second caller (Ctrl-C during a `finally`) waits for the same stop.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  /** Each step even when one before it failed: a redis-server must never outlive the bench. */
  private async stopAll(): Promise<void> {
    const steps = [
      () => Promise.all(this.processes.map((p) => p.stop())),
      () => Promise.all([...this.queues.values()].map((q) => q.close())),
      () => this.proxy?.stop(),
      () => this.github.stop(),
      () => this.redisClient.disconnect(),
      () => this.redis.stop(),
      () => rmSync(this.dir, { recursive: true, force: true }),
    ];
    for (const step of steps) await Promise.resolve().then(step).catch((err) => console.error(`${this.name}: while stopping:`, err));
    live.delete(this);
  }

  private relayEnv(): Record<string, string> {
    return {
      ...relayDefaults, PRIVATE_KEY: appPrivateKey(), GHE_HOST: this.forgeHost, REDIS_URL: this.redis.url,
      OPENCI_MAP: join(this.dir, "openci-map.yml"), ...this.o.env,
    };
  }

  private spawn(name: string, script: string, env: Record<string, string>): NodeProcess {
    const p = spawnNode(name, script, env, { cwd: this.dir, cpuProfDir: this.o.cpuProfDir && join(this.o.cpuProfDir, this.name) });
    this.processes.push(p);
    return p;
  }
}
