import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

export interface SinkCounts {
  delivered: number;
  failedAttempts: number;
  deadLettered: number;
}

/** Per-subscriber counters in Redis, shared by every worker: what `openci-relay sinks` shows. */
export class SinkStats {
  constructor(private readonly redis: Redis) {}

  async delivered(sinkId: string): Promise<void> {
    await this.redis.hincrby(this.k(sinkId), "delivered", 1);
  }

  async failedAttempt(sinkId: string, last: boolean): Promise<void> {
    const m = this.redis.multi().hincrby(this.k(sinkId), "failedAttempts", 1);
    if (last) m.hincrby(this.k(sinkId), "deadLettered", 1);
    await m.exec();
  }

  async get(sinkId: string): Promise<SinkCounts> {
    const h = await this.redis.hgetall(this.k(sinkId));
    return { delivered: Number(h.delivered ?? 0), failedAttempts: Number(h.failedAttempts ?? 0), deadLettered: Number(h.deadLettered ?? 0) };
  }

  private k(sinkId: string): string {
    return key("sink-stats", sinkId);
  }
}
