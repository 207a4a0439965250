import { withQueue, type QueueKey } from "./queue-client.js";

/**
 * Moves the queue's delayed jobs named `name` to waiting, as if their retry backoff had passed, until
 * `done()` says so (within `timeoutMs`, less than Jest's test timeout): a test of what happens after the last of ten attempts need not wait the ≈ 17
 * minutes of real backoff. Only the wait is skipped: every attempt still runs, as BullMQ counts it.
 */
export async function skipBackoff(redisUrl: string, queue: QueueKey, name: string, done: () => boolean, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let promoted = 0;
  return withQueue(redisUrl, queue, async (q) => {
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`skipBackoff: not done after ${timeoutMs} ms (${promoted} jobs promoted)`);
      for (const job of await q.getDelayed()) {
        if (job.name !== name) continue;
        // The job may have been taken or promoted meanwhile: then there is nothing to skip.
        await job.promote().then(() => promoted++, () => undefined);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    return promoted;
  });
}
