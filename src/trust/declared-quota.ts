import type { Redis } from "ioredis";
import { ownerKey, type Project } from "../map/graph.js";
import { key } from "../queue/names.js";

// KEYS[1] the owner's day (a set of relay run ids); ARGV: run id, quota, ttl. 1: within the quota.
const TAKE = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

/**
 * How many triggers along edges only their downstreams declared each owner (GitHub account, GitLab
 * host and top-level group) gets a day (UTC). Each trigger writes a bounded number of history
 * records (the trigger, its states, at most 20 test outputs), so this also bounds what
 * self-declared projects can make the relay keep, in a Redis that evicts nothing. Counted by relay
 * run id, so a retried or redelivered trigger takes nothing more.
 */
export class DeclaredQuota {
  constructor(
    private readonly redis: Redis,
    private readonly perOwnerPerDay: number,
  ) {}

  /** Takes `relayRunId`'s place in `downstream`'s owner's day; false when the day's quota is spent. */
  async take(downstream: Project, relayRunId: string, now = new Date()): Promise<boolean> {
    const day = key("declared-triggers", ownerKey(downstream.location), now.toISOString().slice(0, 10));
    return Number(await this.redis.eval(TAKE, 1, day, relayRunId, this.perOwnerPerDay, 2 * 24 * 3600)) === 1;
  }
}
