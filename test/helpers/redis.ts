import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";

export type TestRedis = EmbeddedRedis & { cleanup(): Promise<void> };

/** A private redis-server on a free port for one test (never the machine's 6379). */
export async function startTestRedis(): Promise<TestRedis> {
  return wrap(await startEmbeddedRedis({ dir: mkdtempSync(join(tmpdir(), "openci-redis-")), appendOnly: false }));
}

/** A new redis-server on the port and folder of one that was stopped or killed. */
export async function restartTestRedis(previous: TestRedis): Promise<TestRedis> {
  await previous.stop();
  return wrap(await startEmbeddedRedis({ dir: previous.dir, port: previous.port, appendOnly: false }));
}

function wrap(redis: EmbeddedRedis): TestRedis {
  const dir = redis.dir;
  return {
    ...redis,
    cleanup: async () => {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

