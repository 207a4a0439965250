import { randomUUID } from "node:crypto";
import { DelayedError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** The default of OPENCI_JOB_LOCK_MS: how long a job's lock lasts between renewals. */
const DEFAULT_LOCK_MS = 30_000;
const BUSY_RETRY_MS = 250;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/**
 * One writer per upstream check at a time, across every worker process. A job that finds the lock
 * taken goes back to the delayed set and waits its turn without using one of its attempts.
 *
 * The lock lasts as long as a job's own lock (`lockMs`, OPENCI_JOB_LOCK_MS) and is renewed while
 * its writer works, as BullMQ renews the job's: a writer that dies (a killed worker, a Redis
 * failover) holds the check no longer than its job stays active, so the check is written again as
 * soon as its job is taken again, not a fixed minute later.
 */
export async function withCheckLock<T>(
  redis: Redis, checkKey: string, job: Job, token: string | undefined, fn: () => Promise<T>, lockMs = DEFAULT_LOCK_MS,
): Promise<T> {
  const lockKey = key("lock", "check", checkKey);
  const owner = randomUUID();
  if ((await redis.set(lockKey, owner, "PX", lockMs, "NX")) !== "OK") {
    await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
    throw new DelayedError();
  }
  const renewing = setInterval(() => void redis.eval(RENEW, 1, lockKey, owner, String(lockMs)).catch(() => undefined), Math.max(500, Math.floor(lockMs / 2)));
  renewing.unref();
  try {
    return await fn();
  } finally {
    clearInterval(renewing);
    await redis.eval(RELEASE, 1, lockKey, owner);
  }
}
