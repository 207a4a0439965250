import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** What one request spends: `cost` units of the per-minute budget `budget` of its place (`perMinute` 0 or less: no limit). */
export interface Spend {
  budget: string;
  perMinute: number;
  cost: number;
}

/** Why a request must wait, and for how long. */
export interface Held {
  waitMs: number;
  /** "paused" (the forge said to wait) or the name of the budget that is spent */
  why: string;
}

/**
 * All or nothing, in one step: a place the forge paused waits out the pause; else every budget
 * must have room for its cost, and then all are spent. A request costing more than a whole budget
 * still goes through at the start of a minute, so a small budget never blocks it for good.
 */
const TAKE = `
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {paused, 'paused'} end
local n = #KEYS - 1
for i = 1, n do
  local cost = tonumber(ARGV[2 * i])
  local limit = tonumber(ARGV[2 * i + 1])
  local used = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
  if used > 0 and used + cost > limit then return {tonumber(ARGV[1]), ARGV[2 * n + 1 + i]} end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i + 1], tonumber(ARGV[2 * i]))
  redis.call('EXPIRE', KEYS[i + 1], 120)
end
return {0, ''}
`;

/**
 * The forges' limits, counted in Redis so every worker process shares them: budgets of actions
 * per minute per place (a GitHub installation, a GitLab project and token), and pauses a forge
 * asked for (Retry-After, a rate-limit reset). Over budget or paused, the caller gets how long
 * to wait, and its job goes back to the queue for that long instead of provoking the forge.
 */
export class ForgeLimits {
  constructor(private readonly redis: Redis) {}

  /** Spends `spends` for `place`; undefined when the request may go now, else how long to wait and why. */
  async take(place: string, spends: Spend[], now: number = Date.now()): Promise<Held | undefined> {
    const limited = spends.filter((s) => s.perMinute > 0);
    const minute = Math.floor(now / 60_000);
    const p = place.toLowerCase();
    const keys = [key("pause", p), ...limited.map((s) => key("budget", s.budget, p, String(minute)))];
    const args = [String((minute + 1) * 60_000 - now), ...limited.flatMap((s) => [String(s.cost), String(s.perMinute)]), ...limited.map((s) => s.budget)];
    const [waitMs, why] = (await this.redis.eval(TAKE, keys.length, ...keys, ...args)) as [number, string];
    return waitMs > 0 ? { waitMs, why } : undefined;
  }

  /** The forge asked to wait `ms` before the next request of `place`: every worker holds off that long (a longer pause stands). */
  async pause(place: string, ms: number): Promise<void> {
    const k = key("pause", place.toLowerCase());
    const px = Math.max(1, Math.ceil(ms));
    await this.redis.multi().set(k, "1", "PX", px, "NX").pexpire(k, px, "GT").exec();
  }
}

/** Pipeline creations per GitLab project, token and minute (GitLab.com allows about 25 per project, user and commit). */
export class PipelineBudget {
  private readonly limits: ForgeLimits;
  constructor(redis: Redis, readonly perMinute: number) {
    this.limits = new ForgeLimits(redis);
  }

  /** Takes one creation for `place`; returns undefined when allowed, else the milliseconds to wait. */
  async take(place: string, now: number = Date.now()): Promise<number | undefined> {
    if (this.perMinute <= 0) return undefined;
    return (await this.limits.take(`gitlab-pipelines:${place}`, [{ budget: "gitlab-pipelines", perMinute: this.perMinute, cost: 1 }], now))?.waitMs;
  }
}
