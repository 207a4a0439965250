import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/**
 * A budget of actions per minute per place (a GitHub installation, a GitLab project), counted in
 * Redis so every worker process shares it. Over budget, the caller gets how long to wait, and the
 * job goes back to the queue for that long instead of provoking the forge's limit.
 */
export class MinuteBudget {
  constructor(private readonly redis: Redis, private readonly name: string, readonly perMinute: number) {}

  /** Takes one action for `place`; returns undefined when allowed, else the milliseconds to wait. */
  async take(place: string, now: number = Date.now()): Promise<number | undefined> {
    if (this.perMinute <= 0) return undefined;
    const minute = Math.floor(now / 60_000);
    const k = key("budget", this.name, place.toLowerCase(), String(minute));
    const [[, count] = [null, 0]] = ((await this.redis.multi().incr(k).expire(k, 120).exec()) ?? []) as [unknown, number][];
    if (Number(count) <= this.perMinute) return undefined;
    await this.redis.decr(k);
    return (minute + 1) * 60_000 - now;
  }
}

/** Pipeline creations per GitLab project and minute (GitLab.com allows about 25 per project, user and commit). */
export class PipelineBudget extends MinuteBudget {
  constructor(redis: Redis, perMinute: number) {
    super(redis, "gitlab-pipelines", perMinute);
  }
}
