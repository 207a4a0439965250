import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedRedis, type EmbeddedRedis } from "../../src/redis/embedded.js";

/** A private redis-server on a free port for one test file (never the machine's 6379). */
export async function startTestRedis(): Promise<EmbeddedRedis & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "openci-redis-"));
  const redis = await startEmbeddedRedis({ dir, appendOnly: false });
  return {
    ...redis,
    cleanup: async () => {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
