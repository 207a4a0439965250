import { Queue, type JobType } from "bullmq";
import { Redis } from "ioredis";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";

const ALL: JobType[] = ["waiting", "active", "completed", "failed", "delayed", "prioritized", "waiting-children"];

/** How many jobs `queue` holds in the given states (default: any state, i.e. ever enqueued and kept). */
export async function jobCount(redisUrl: string, queue: keyof typeof QUEUES, states: JobType[] = ALL): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const q = new Queue(QUEUES[queue], { connection, prefix: KEY_PREFIX });
  try {
    const counts = await q.getJobCounts(...states);
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await q.close();
    connection.disconnect();
  }
}
