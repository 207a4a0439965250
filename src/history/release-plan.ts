import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** How long a release's plan is kept: well past any downstream's timeout and re-runs. */
const PLAN_TTL_S = 30 * 24 * 3600;

/**
 * The downstreams a release was handed to (its fan-out, and cascades as they come), written before
 * their triggers are queued. The history knows a downstream only once its first record is written
 * (its trigger ran, its gate is waiting); a reader that must know whether every downstream has ended
 * (a chat's summary) asks the plan which ones to expect.
 */
export class ReleasePlan {
  constructor(private readonly redis: Redis) {}

  async add(upstream: string, tag: string, sha: string, downstreams: readonly string[]): Promise<void> {
    if (downstreams.length === 0) return;
    const k = this.k(upstream, tag, sha);
    await this.redis.multi().sadd(k, ...downstreams).expire(k, PLAN_TTL_S).exec();
  }

  async downstreams(upstream: string, tag: string, sha: string): Promise<string[]> {
    return this.redis.smembers(this.k(upstream, tag, sha));
  }

  private k(upstream: string, tag: string, sha: string): string {
    return key("release-plan", upstream, tag, sha);
  }
}
