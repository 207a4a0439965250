import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { findRedisServer, startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";
import { freePort } from "../../src/util/free-port.js";
import { waitFor } from "./wait-for.js";

export const MASTER_NAME = "relay-master";

export interface TestSentinel {
  /** REDIS_URL for the relay: redis+sentinel://127.0.0.1:<sentinel port>/relay-master */
  url: string;
  /** The port of the server the sentinel names master now. */
  masterPort(): Promise<number>;
  /**
   * Promotes the replica (SENTINEL FAILOVER); resolves with its port once the sentinel names it master
   * and the old master has become its replica (until then the old one still takes writes, which the
   * resynchronisation then discards).
   */
  failover(): Promise<number>;
  cleanup(): Promise<void>;
}

/**
 * A private master, one replica of it and one sentinel watching them (quorum 1), all on loopback:
 * enough for the relay to find its master through Sentinel and follow a failover.
 */
export async function startTestSentinel(): Promise<TestSentinel> {
  const dir = mkdtempSync(join(tmpdir(), "openci-sentinel-"));
  const servers: EmbeddedRedis[] = [];
  let sentinel: Redis | undefined;
  let stopSentinel = async () => {};
  const cleanup = async () => {
    sentinel?.disconnect();
    await stopSentinel();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const master = await startEmbeddedRedis({ dir: join(dir, "master"), appendOnly: false });
    servers.push(master);
    const replica = await startEmbeddedRedis({ dir: join(dir, "replica"), appendOnly: false, args: ["--replicaof", "127.0.0.1", String(master.port)] });
    servers.push(replica);
    await waitFor("the replica in sync", async () => /master_link_status:up/.test(await infoOf(replica.port, "replication")), 20_000);
    // Started after the replica is attached, the sentinel learns of it from the master's first INFO.
    const port = await freePort();
    stopSentinel = startSentinelProcess(join(dir, "sentinel"), port, master.port);
    sentinel = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    const s = sentinel;
    await waitFor("the sentinel to know the replica", async () => {
      const replicas = (await s.call("SENTINEL", "REPLICAS", MASTER_NAME).catch(() => [])) as string[][];
      return replicas.length === 1 && !/down|disconnected/.test(fieldOf(replicas[0]!, "flags"));
    }, 30_000);
    const masterPort = async () => Number(((await s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)) as string[])[1]);
    return {
      url: `redis+sentinel://127.0.0.1:${port}/${MASTER_NAME}`,
      masterPort,
      failover: async () => {
        const before = await masterPort();
        await s.call("SENTINEL", "FAILOVER", MASTER_NAME);
        const promoted = await waitFor("the sentinel to name the replica master", async () => {
          const now = await masterPort();
          return now !== before && /role:master/.test(await infoOf(now, "replication")) ? now : undefined;
        }, 30_000);
        await waitFor("the old master to follow the new one", async () => /role:slave/.test(await infoOf(before, "replication")), 30_000);
        return promoted;
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function startSentinelProcess(dir: string, port: number, masterPort: number): () => Promise<void> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "sentinel.conf");
  writeFileSync(conf, [
    `port ${port}`, "bind 127.0.0.1", `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
    `sentinel failover-timeout ${MASTER_NAME} 10000`,
  ].join("\n") + "\n");
  const child = spawn(findRedisServer()!, [conf, "--sentinel"], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await exited;
  };
}

async function infoOf(port: number, section: string): Promise<string> {
  const r = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await r.connect();
    return await r.info(section);
  } catch {
    return "";
  } finally {
    r.disconnect();
  }
}

/** A field of SENTINEL's flat [name, value, name, value …] replies. */
function fieldOf(flat: string[], name: string): string {
  const i = flat.indexOf(name);
  return i === -1 ? "" : flat[i + 1]!;
}
