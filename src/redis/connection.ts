import { Redis, type RedisOptions } from "ioredis";

/**
 * `client`: the web tier and the relay's own keys; commands fail fast while Redis is away instead of
 * piling up in memory. `worker`: BullMQ workers, whose blocking commands must wait (maxRetriesPerRequest: null).
 */
export function createRedis(url: string, role: "client" | "worker"): Redis {
  const options: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 };
  return new Redis(url, { ...options, lazyConnect: false });
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

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, "//[redacted]@");
}
