import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";
import { ForgeError, classifyHttpError } from "./errors.js";

/** What one request spends: `cost` units (a whole number) of the budget `budget` of its place, `perMinute` in any 60 s (0 or less: no limit). */
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

/** The forges' window: GitHub and GitLab limit requests in any 60 seconds, not per clock minute. */
const FORGE_WINDOW_MS = 60_000;

/**
 * A spend is counted when it is taken, a moment before the request reaches the forge, so it is kept
 * this much longer than the forge's window: the forge never sees one more than the budget in its own
 * window (npm run bench:budget provoked a 403 without that second).
 */
const MARGIN_MS = 1_000;

/** The window every budget counts over. */
export const WINDOW_MS = FORGE_WINDOW_MS + MARGIN_MS;

let forgeWindowMs = FORGE_WINDOW_MS;

/**
 * Tests only: the forges' window shortened to `ms` (restored without it), so that a budget's bound
 * over several windows shows in seconds. Not configuration: GitHub's and GitLab's windows are fixed.
 * It applies to every ForgeLimits of this process (the test harness runs its relays in-process).
 */
export function setForgeWindowForTests(ms?: number): void {
  forgeWindowMs = ms ?? FORGE_WINDOW_MS;
}

/**
 * All or nothing, in one step: a place the forge paused waits out the pause; else every budget
 * must have room for its cost among what was spent in the last 60 s (a sorted set of spends, each
 * member ending in its cost), and then all are spent. Over budget, the wait is until enough of the
 * oldest spends leave the window. A request costing more than a whole budget still goes through
 * when nothing else was spent in the window, so a small budget never blocks it for good.
 */
const TAKE = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {paused, 'paused'} end
local n = #KEYS - 1
for i = 1, n do
  local k = KEYS[i + 1]
  local cost = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
  local spent = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  local used = 0
  for j = 1, #spent, 2 do used = used + tonumber(string.match(spent[j], ':(%d+)$')) end
  if used > 0 and used + cost > limit then
    local freed = 0
    for j = 1, #spent, 2 do
      freed = freed + tonumber(string.match(spent[j], ':(%d+)$'))
      if used - freed + cost <= limit or j + 1 == #spent then return {math.max(1, tonumber(spent[j + 1]) + window - now), ARGV[3 + 2 * n + i]} end
    end
  end
end
for i = 1, n do
  redis.call('ZADD', KEYS[i + 1], now, ARGV[3 + 2 * n] .. ':' .. ARGV[1 + 2 * i])
  redis.call('PEXPIRE', KEYS[i + 1], window)
end
return {0, ''}
`;

/**
 * The forges' limits, counted in Redis so every worker process shares them: budgets of actions
 * in any 60 seconds per place (a GitHub installation, a GitLab project and token), and pauses a
 * forge asked for (Retry-After, a rate-limit reset). Over budget or paused, the caller gets how
 * long to wait, and its job goes back to the queue for that long instead of provoking the forge.
 */
export class ForgeLimits {
  constructor(private readonly redis: Redis) {}

  /** Spends `spends` for `place`; undefined when the request may go now, else how long to wait and why. */
  async take(place: string, spends: Spend[], now: number = Date.now()): Promise<Held | undefined> {
    const limited = spends.filter((s) => s.perMinute > 0);
    const p = place.toLowerCase();
    const keys = [key("pause", p), ...limited.map((s) => key("budget", s.budget, p))];
    const spendId = `${now}-${randomUUID()}`;
    const args = [String(now), String(forgeWindowMs + MARGIN_MS), ...limited.flatMap((s) => [String(Math.max(1, Math.round(s.cost))), String(s.perMinute)]), spendId, ...limited.map((s) => s.budget)];
    const [waitMs, why] = (await this.redis.eval(TAKE, keys.length, ...keys, ...args)) as [number, string];
    return waitMs > 0 ? { waitMs, why } : undefined;
  }

  /** The forge asked to wait `ms` before the next request of `place`: every worker holds off that long (a longer pause stands). */
  async pause(place: string, ms: number): Promise<void> {
    const k = key("pause", place.toLowerCase());
    const px = Math.max(1, Math.ceil(ms));
    await this.redis.multi().set(k, "1", "PX", px, "NX").pexpire(k, px, "GT").exec();
  }

  /**
   * One forge request of `place` (`label` names it in errors): it spends `spends` or fails as
   * rate limited with the wait, so its job waits in the queue; a rate-limited answer pauses the
   * place for every worker, as long as the forge said (a minute when it did not say).
   */
  async guard<T>(place: string, spends: Spend[], label: string, request: () => Promise<T>): Promise<T> {
    const held = await this.take(place, spends);
    if (held) {
      const spent = spends.find((x) => x.budget === held.why);
      const why = spent ? `${spent.budget} over ${spent.perMinute} a minute` : "the forge asked to wait";
      throw new ForgeError(`${label} held back: ${why}`, "rate_limited", { retryAfterMs: held.waitMs });
    }
    try {
      return await request();
    } catch (error) {
      const e = classifyHttpError(error, label);
      if (e.kind === "rate_limited") await this.pause(place, e.retryAfterMs ?? DEFAULT_PAUSE_MS);
      throw error;
    }
  }
}

/** How long a place is paused when the forge limited it without saying for how long (GitHub: "at least one minute"). */
const DEFAULT_PAUSE_MS = 60_000;

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
