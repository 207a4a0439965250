import { randomUUID } from "node:crypto";
import { DelayedError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

const LOCK_MS = 60_000;
const BUSY_RETRY_MS = 250;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * One writer per upstream check at a time, across every worker process. A job that finds the lock
 * taken goes back to the delayed set and waits its turn without using one of its attempts.
 */
export async function withCheckLock<T>(redis: Redis, checkKey: string, job: Job, token: string | undefined, fn: () => Promise<T>): Promise<T> {
  const lockKey = key("lock", "check", checkKey);
  const owner = randomUUID();
  if ((await redis.set(lockKey, owner, "PX", LOCK_MS, "NX")) !== "OK") {
    await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
    throw new DelayedError();
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, 1, lockKey, owner);
  }
}
