import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";

export type QueueKey = keyof typeof QUEUES;

/**
 * A short-lived BullMQ client on one of the relay's queues in the test's Redis, closed after `fn`.
 * It fails fast rather than reconnecting for ever once the test's Redis is gone (a failed test's cleanup).
 */
export async function withQueue<T>(redisUrl: string, queue: QueueKey, fn: (q: Queue) => Promise<T>): Promise<T> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  const q = new Queue(QUEUES[queue], { connection, prefix: KEY_PREFIX });
  try {
    return await fn(q);
  } finally {
    await q.close();
    connection.disconnect();
  }
}

/** Every job the queue ever held, whatever its state (completed ones are kept). */
export function allJobs(redisUrl: string, queue: QueueKey): Promise<number> {
  return withQueue(redisUrl, queue, async (q) => Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0));
}
