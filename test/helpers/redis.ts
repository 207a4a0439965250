import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";

export type TestRedis = EmbeddedRedis & { durable: boolean; cleanup(): Promise<void> };

/** A private redis-server on a free port for one test (never the machine's 6379). */
export async function startTestRedis(o: { durable?: boolean } = {}): Promise<TestRedis> {
  return wrap(await startEmbeddedRedis({ dir: mkdtempSync(join(tmpdir(), "openci-redis-")), ...persistence(o.durable) }), o.durable);
}

/** A new redis-server on the port and folder of one that was stopped or killed (durable: its AOF is read back). */
export async function restartTestRedis(previous: TestRedis): Promise<TestRedis> {
  await previous.stop();
  return wrap(await startEmbeddedRedis({ dir: previous.dir, port: previous.port, ...persistence(previous.durable) }), previous.durable);
}

/**
 * Durable: every write is in the AOF before Redis answers (`appendfsync always`), so a SIGKILL
 * loses nothing that was acknowledged: what the fault tests need to check "nothing lost".
 */
function persistence(durable: boolean | undefined) {
  return durable ? { appendOnly: true, args: ["--appendfsync", "always"] } : { appendOnly: false };
}

function wrap(redis: EmbeddedRedis, durable = false): TestRedis {
  const dir = redis.dir;
  return {
    ...redis,
    durable,
    cleanup: async () => {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

