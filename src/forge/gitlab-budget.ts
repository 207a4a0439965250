import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/**
 * Pipeline creations per GitLab project and minute, counted in Redis so every worker shares them
 * (GitLab.com allows about 25 a minute per project, user and commit). Over budget, the caller gets
 * how long to wait, and the job goes back to the queue for that long instead of provoking a 429.
 */
export class PipelineBudget {
  constructor(private readonly redis: Redis, readonly perMinute: number) {}

  /** Takes one creation for `place`; returns undefined when allowed, else the milliseconds to wait. */
  async take(place: string, now: number = Date.now()): Promise<number | undefined> {
    if (this.perMinute <= 0) return undefined;
    const minute = Math.floor(now / 60_000);
    const k = key("budget", "gitlab-pipelines", place.toLowerCase(), String(minute));
    const [[, count] = [null, 0]] = ((await this.redis.multi().incr(k).expire(k, 120).exec()) ?? []) as [unknown, number][];
    if (Number(count) <= this.perMinute) return undefined;
    await this.redis.decr(k);
    return (minute + 1) * 60_000 - now;
  }
}
