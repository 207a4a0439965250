import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { parseRedisUrl, redactUrl, type RedisTarget } from "./redis-url.js";

export { redactUrl } from "./redis-url.js";

type Role = "client" | "worker";

/**
 * `client`: the web tier and the relay's own keys; commands fail fast while Redis is away instead of
 * piling up in memory. `worker`: BullMQ workers, whose blocking commands must wait (maxRetriesPerRequest: null).
 */
const ROLE_OPTIONS: Record<Role, { perNode: RedisOptions; offlineQueue: boolean }> = {
  client: { perNode: { maxRetriesPerRequest: 1, connectTimeout: 5000 }, offlineQueue: false },
  worker: { perNode: { maxRetriesPerRequest: null }, offlineQueue: true },
};

/** A connection for `role` to the Redis REDIS_URL names: one server, a Cluster, or a Sentinel-managed master. */
export function createRedis(url: string, role: Role): Redis {
  const target = parseRedisUrl(url);
  const { perNode, offlineQueue } = ROLE_OPTIONS[role];
  const options: RedisOptions = { ...perNode, enableOfflineQueue: offlineQueue, enableReadyCheck: true, lazyConnect: false };
  switch (target.topology) {
    case "standalone":
      return new Redis(url, options);
    case "sentinel":
      return new Redis({ ...options, ...sentinelOptions(target) });
    case "cluster":
      return clusterAsRedis(new Cluster(target.nodes, clusterOptions(target, role)));
  }
}

/**
 * The one place a Cluster passes for a Redis. What the relay uses works on both: single-key commands,
 * EVAL and MULTI whose keys all carry the `{openci}` hash tag (one slot), XREAD BLOCK on one stream,
 * PING, CONFIG GET, PUBLISH/SUBSCRIBE, `status`, the ready/error/message events, quit and disconnect;
 * BullMQ recognises a Cluster by itself (`isCluster`) and duplicates it for its blocking connections.
 */
function clusterAsRedis(cluster: Cluster): Redis {
  return cluster as unknown as Redis;
}

/** The servers behind a connection that take writes: a Cluster's masters, else the one server. */
export function mastersOf(redis: Redis): Redis[] {
  const cluster = redis as unknown as Partial<Cluster>;
  return typeof cluster.nodes === "function" ? cluster.nodes("master") : [redis];
}

function clusterOptions(target: Extract<RedisTarget, { topology: "cluster" }>, role: Role): ClusterOptions {
  const { perNode, offlineQueue } = ROLE_OPTIONS[role];
  return {
    // Queued at the cluster level (the node connections always queue): off for the client role, so a
    // command during a failover fails at once instead of waiting in memory.
    enableOfflineQueue: offlineQueue,
    enableReadyCheck: true,
    lazyConnect: false,
    redisOptions: {
      ...perNode,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    // With TLS, nodes are reached by the names given (as their certificates say), not by resolved addresses.
    ...(target.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
  };
}

function sentinelOptions(target: Extract<RedisTarget, { topology: "sentinel" }>): RedisOptions {
  return {
    sentinels: target.sentinels,
    name: target.name,
    role: "master",
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
    // On a failover the sentinels announce the new master: drop the connection to the old one at once
    // instead of writing to it once it is a (read-only) replica.
    failoverDetector: true,
    // rediss+sentinel: TLS to the sentinels and to the master they name.
    ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  };
}

/** Resolves once the connection is ready, or rejects with a message saying where Redis was expected. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms: start it, or fix REDIS_URL`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
    };
    redis.on("ready", onReady);
  });
}
