import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";
import { freePort } from "../../src/util/free-port.js";
import { waitFor } from "./wait-for.js";

const run = promisify(execFile);
/** Redis Cluster nodes talk to each other on their port + 10000 (the cluster bus). */
const BUS_OFFSET = 10_000;

export interface TestCluster {
  /** REDIS_URL for the relay: redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  ports: number[];
  /** A plain connection to each master, for looking at what it holds. */
  nodes(): Redis[];
  cleanup(): Promise<void>;
}

/**
 * A private three-master Redis Cluster on loopback (no replicas, nothing saved to disk), created
 * with `redis-cli --cluster create` and returned once every node reports `cluster_state:ok`.
 */
export async function startTestCluster(masters = 3): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "openci-cluster-"));
  const servers: EmbeddedRedis[] = [];
  const clients: Redis[] = [];
  const cleanup = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) servers.push(await startNode(join(dir, `node-${i}`), servers.map((s) => s.port)));
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 });
    clients.push(...servers.map((s) => new Redis(s.port, "127.0.0.1", { maxRetriesPerRequest: 1 })));
    await waitFor("every node to see the whole cluster as ok", async () => {
      const infos = await Promise.all(clients.map((c) => c.cluster("INFO") as Promise<string>));
      return infos.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info));
    }, 30_000);
    return { url: `redis+cluster://${addresses.join(",")}`, ports: servers.map((s) => s.port), nodes: () => clients, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** One cluster-enabled redis-server on a port whose bus port is free too (never 6379); another pair if taken meanwhile. */
async function startNode(dir: string, taken: number[]): Promise<EmbeddedRedis> {
  for (let attempt = 1; ; attempt++) {
    const port = await clusterPort(taken);
    try {
      return await startEmbeddedRedis({
        dir, port, appendOnly: false,
        args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"],
      });
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

async function clusterPort(taken: number[]): Promise<number> {
  for (;;) {
    const port = await freePort();
    const clashes = [port, port + BUS_OFFSET].some((p) => p === 6379 || p === 6379 + BUS_OFFSET || taken.includes(p) || taken.includes(p - BUS_OFFSET));
    if (!clashes && port + BUS_OFFSET <= 65_535 && (await isFree(port + BUS_OFFSET))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
