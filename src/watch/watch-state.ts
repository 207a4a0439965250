import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** What the watcher remembers of one upstream between polls (shown by operators' tools). */
export interface WatchedState {
  /** when the first look took its baseline (absent: the next poll takes it) */
  baselineAt: string | undefined;
  /** the ETag of the last answer, sent as If-None-Match */
  etag: string | undefined;
  lastPollAt: string | undefined;
  /** the last poll's error, absent after a poll that read the tags */
  lastError: string | undefined;
  lastNewTag: string | undefined;
  /** polls that got an answer (a read, a baseline or a 304) since the upstream was first watched */
  polls: number;
  /** of those, the ones answered 304 Not Modified (nothing read, nothing spent) */
  notModified: number;
}

/**
 * Claims the upstreams due for a poll, atomically (any number of worker processes tick at once):
 * an upstream not scheduled yet gets its first time (spread over its interval), one that is due
 * gets its next time, and only the claimer polls it now.
 * KEYS[1]: the schedule (score: when due, ms); ARGV[1]: now; then id, first due, next due per upstream.
 */
const CLAIM = `
local claimed = {}
for i = 2, #ARGV, 3 do
  local due = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not due then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  elseif tonumber(due) <= tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i])
    claimed[#claimed + 1] = ARGV[i]
  end
end
return claimed`;

/**
 * Claims, before their time, up to ARGV[3] of the listed upstreams due by ARGV[2] (ms) and not
 * claimed yet (due later than ARGV[1], now): polled early to fill a batch that goes out anyway.
 * KEYS[1]: the schedule; then id, next due per upstream.
 */
const CLAIM_EARLY = `
local claimed = {}
local room = tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  if #claimed >= room then break end
  local due = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if due and tonumber(due) > tonumber(ARGV[1]) and tonumber(due) <= tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    claimed[#claimed + 1] = ARGV[i]
  end
end
return claimed`;

/**
 * The watcher's state in Redis: when each watched upstream is due, and per upstream its tags as
 * last read (name → commit), its ETag and its last poll. Shared by every worker process.
 */
export class WatchState {
  constructor(private readonly redis: Redis) {}

  /**
   * The upstreams among `watched` to poll now, each claimed for this caller alone; the rest keep
   * their time. Jitter spreads polls: the first over the whole interval, later ones by ±10%.
   * Upstreams no longer watched leave the schedule.
   */
  async claimDue(watched: { id: string; intervalMs: number }[], now = Date.now(), random: () => number = Math.random): Promise<string[]> {
    const schedule = key("watch-due");
    const listed = new Set(watched.map((w) => w.id));
    const gone = (await this.redis.zrange(schedule, 0, -1)).filter((id) => !listed.has(id));
    if (gone.length > 0) await this.redis.zrem(schedule, ...gone);
    if (watched.length === 0) return [];
    const args = watched.flatMap((w) => [
      w.id, String(now + Math.floor(random() * w.intervalMs)), String(now + Math.floor(w.intervalMs * (0.9 + 0.2 * random()))),
    ]);
    return (await this.redis.eval(CLAIM, 1, schedule, String(now), ...args)) as string[];
  }

  /**
   * Up to `room` of `candidates` due within the next `aheadFraction` of their interval, claimed now
   * (and rescheduled a whole interval from now): a batch source reads them in a request that goes
   * out anyway, instead of a nearly empty one a tick later.
   */
  async claimEarly(candidates: { id: string; intervalMs: number }[], room: number, aheadFraction: number, now = Date.now(), random: () => number = Math.random): Promise<string[]> {
    if (room <= 0 || candidates.length === 0) return [];
    const horizon = now + Math.floor(Math.min(...candidates.map((c) => c.intervalMs)) * aheadFraction);
    const args = candidates.flatMap((c) => [c.id, String(now + Math.floor(c.intervalMs * (0.9 + 0.2 * random())))]);
    return (await this.redis.eval(CLAIM_EARLY, 1, key("watch-due"), String(now), String(horizon), String(room), ...args)) as string[];
  }

  /** Makes the upstream due by `at` (ms) at the latest: sooner than scheduled, never later; one not scheduled stays so. */
  async dueBy(upstreamId: string, at: number): Promise<void> {
    await this.redis.zadd(key("watch-due"), "XX", "LT", at, upstreamId);
  }

  /** When each watched upstream is next due (ms), for operators. */
  async schedule(): Promise<Map<string, number>> {
    const flat = await this.redis.zrange(key("watch-due"), 0, -1, "WITHSCORES");
    const out = new Map<string, number>();
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
    return out;
  }

  async state(upstreamId: string): Promise<WatchedState> {
    const h = await this.redis.hgetall(key("watch", upstreamId));
    return {
      baselineAt: h.baselineAt, etag: h.etag, lastPollAt: h.lastPollAt, lastError: h.lastError, lastNewTag: h.lastNewTag,
      polls: Number(h.polls ?? 0), notModified: Number(h.notModified ?? 0),
    };
  }

  /** The tags as last read: name → commit. */
  async tags(upstreamId: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(key("watch-tags", upstreamId))));
  }

  /** The first look: these tags are the baseline, never triggered. */
  async takeBaseline(upstreamId: string, tags: { name: string; sha: string }[], etag: string | undefined): Promise<void> {
    const now = new Date().toISOString();
    const m = this.redis.multi().del(key("watch-tags", upstreamId));
    if (tags.length > 0) m.hset(key("watch-tags", upstreamId), Object.fromEntries(tags.map((t) => [t.name, t.sha])));
    m.hset(key("watch", upstreamId), { baselineAt: now, lastPollAt: now, ...(etag ? { etag } : {}) }).hdel(key("watch", upstreamId), "lastError", ...(etag ? [] : ["etag"]));
    m.hincrby(key("watch", upstreamId), "polls", 1);
    await m.exec();
  }

  /** A later look: the new and moved tags (already enqueued), the deleted ones, the new ETag. */
  async update(upstreamId: string, change: { changed: { name: string; sha: string }[]; deleted: string[]; etag: string | undefined }): Promise<void> {
    const now = new Date().toISOString();
    const m = this.redis.multi();
    if (change.changed.length > 0) m.hset(key("watch-tags", upstreamId), Object.fromEntries(change.changed.map((t) => [t.name, t.sha])));
    if (change.deleted.length > 0) m.hdel(key("watch-tags", upstreamId), ...change.deleted);
    const last = change.changed.at(-1)?.name;
    m.hset(key("watch", upstreamId), { lastPollAt: now, ...(change.etag ? { etag: change.etag } : {}), ...(last ? { lastNewTag: last } : {}) });
    m.hdel(key("watch", upstreamId), "lastError", ...(change.etag ? [] : ["etag"]));
    m.hincrby(key("watch", upstreamId), "polls", 1);
    await m.exec();
  }

  /**
   * A tag announced by a stream (Gerrit's stream-events), already enqueued: remembered as the poller
   * would, so its next look does not take it for new. Nothing else (polls, ETag) changes.
   */
  async streamed(upstreamId: string, tag: { name: string; sha: string }): Promise<void> {
    await this.redis.multi().hset(key("watch-tags", upstreamId), tag.name, tag.sha).hset(key("watch", upstreamId), { lastNewTag: tag.name }).exec();
  }

  /** A look answered 304: nothing changed. */
  async unchanged(upstreamId: string): Promise<void> {
    const m = this.redis.multi().hset(key("watch", upstreamId), { lastPollAt: new Date().toISOString() }).hdel(key("watch", upstreamId), "lastError");
    m.hincrby(key("watch", upstreamId), "polls", 1).hincrby(key("watch", upstreamId), "notModified", 1);
    await m.exec();
  }

  /** A look that failed; returns whether it is a new error (the caller warns once per error, not once per poll). */
  async failed(upstreamId: string, error: string): Promise<boolean> {
    const previous = await this.redis.hget(key("watch", upstreamId), "lastError");
    await this.redis.hset(key("watch", upstreamId), { lastPollAt: new Date().toISOString(), lastError: error });
    return previous !== error;
  }
}
