import { randomUUID } from "node:crypto";
import { DelayedError, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** The default of OPENCI_JOB_LOCK_MS: how long a job's lock lasts between renewals. */
const DEFAULT_LOCK_MS = 30_000;
const BUSY_RETRY_MS = 250;
/** Compare-and-delete: a lock is given back only by its owner (CheckStore.markPushed folds the same into its write). */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** A lock taken, or not; `read` is what was read in the same step, when the claim reads. */
export type Claimed<R> = { held: false } | { held: true; read: R };

/**
 * How the lock is taken: SET NX PX by default. A holder that always reads the same key next folds
 * that read into taking it (one script, one round trip: CheckStore.claim).
 */
export type Claim<R> = (lockKey: string, owner: string, lockMs: number) => Promise<Claimed<R>>;

/** The lock as its holder sees it. */
export interface HeldLock<R> {
  /** what the claim read with the lock (undefined with the default claim) */
  read: R;
  key: string;
  owner: string;
  /** The holder gave the lock back itself, in its last write (RELEASE folded into it): not given back again. */
  released(): void;
}

/**
 * One writer per upstream check at a time, across every worker process. A job that finds the lock
 * taken goes back to the delayed set and waits its turn without using one of its attempts.
 *
 * The lock lasts as long as a job's own lock (`lockMs`, OPENCI_JOB_LOCK_MS) and is renewed while
 * its writer works, as BullMQ renews the job's: a writer that dies (a killed worker, a Redis
 * failover) holds the check no longer than its job stays active, so the check is written again as
 * soon as its job is taken again, not a fixed minute later.
 */
export async function withCheckLock<T, R = undefined>(
  redis: Redis, checkKey: string, job: Job, token: string | undefined, fn: (lock: HeldLock<R>) => Promise<T>, lockMs = DEFAULT_LOCK_MS,
  claim?: Claim<R>,
): Promise<T> {
  const lockKey = key("lock", "check", checkKey);
  const owner = randomUUID();
  const claimed: Claimed<R> = claim
    ? await claim(lockKey, owner, lockMs)
    : (await redis.set(lockKey, owner, "PX", lockMs, "NX")) === "OK" ? { held: true, read: undefined as R } : { held: false };
  if (!claimed.held) {
    await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
    throw new DelayedError();
  }
  const renewing = setInterval(() => void redis.eval(RENEW, 1, lockKey, owner, String(lockMs)).catch(() => undefined), Math.max(500, Math.floor(lockMs / 2)));
  renewing.unref();
  let givenBack = false;
  try {
    return await fn({ read: claimed.read, key: lockKey, owner, released: () => (givenBack = true) });
  } finally {
    clearInterval(renewing);
    if (!givenBack) await redis.eval(RELEASE, 1, lockKey, owner);
  }
}
