import { SYSTEM_KINDS, type SystemKind } from "../forge/kinds.js";
import type { Redis } from "ioredis";
import { z } from "zod";
import { key } from "../queue/names.js";
import type { StatusReport } from "../forge/roles.js";
import type { Claimed } from "./check-lock.js";

/**
 * The desired state of each upstream check, kept in Redis. Writers only move a check forward
 * (queued → in_progress → completed, within a generation), so out-of-order or repeated writers
 * never make a check go back; the report worker pushes the latest desired state to the forge.
 */
const RANK = { queued: 1, in_progress: 2, completed: 3 } as const;
const TTL_S = 60 * 60 * 24 * 30;

export const CheckTarget = z.object({
  forge: z.enum(SYSTEM_KINDS),
  repo: z.string(),
  /** GitLab: the instance's host when it is not GITLAB_URL's (then the map names it) */
  host: z.string().optional(),
  sha: z.string(),
  installationId: z.number().int().positive().optional(),
  /** the tag, or "pull/<n>" for a pull request's head */
  ref: z.string().optional(),
});
export type CheckTarget = z.infer<typeof CheckTarget>;

/** Where the upstream checks of a trigger go: its upstream commit. */
export function targetOf(up: { forge: SystemKind; host?: string | undefined; repo: string; sha: string; installationId?: number | undefined; tag: string }): CheckTarget {
  return { forge: up.forge, ...(up.host ? { host: up.host } : {}), repo: up.repo, sha: up.sha, installationId: up.installationId, ref: up.tag };
}

/** Which trigger a check shows (its tagging upstream, downstream and cascade chain): who may see it is decided again at every push. */
export const CheckAbout = z.object({
  upstream: z.object({ projectId: z.string() }),
  downstreamId: z.string(),
  chain: z.object({ id: z.string(), path: z.array(z.string()) }).optional(),
});
export type CheckAbout = z.infer<typeof CheckAbout>;

export interface StoredCheck {
  target: CheckTarget;
  report: StatusReport;
  about: CheckAbout | undefined;
  version: number;
  pushedVersion: number;
  remoteId: string | undefined;
}

// KEYS[1] check hash; ARGV: order, target json, report json, ttl, about json ("" for none).
// Returns the new version, or 0 if a later state is recorded or this one is already.
// A new generation (a re-run) forgets the check run id, so the forge gets a new check run.
const ADVANCE = `
local current = tonumber(redis.call('HGET', KEYS[1], 'order') or '0')
if tonumber(ARGV[1]) < current then return 0 end
if tonumber(ARGV[1]) == current and redis.call('HGET', KEYS[1], 'report') == ARGV[3] then return 0 end
if math.floor(tonumber(ARGV[1]) / 10) > math.floor(current / 10) then redis.call('HDEL', KEYS[1], 'remoteId') end
redis.call('HSET', KEYS[1], 'order', ARGV[1], 'target', ARGV[2], 'report', ARGV[3])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'about', ARGV[5]) end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return v`;

// KEYS[1] check hash, KEYS[2] (optional) the writer's lock; ARGV: version pushed, remote id, the
// lock's owner. Never lowers pushedVersion; gives the lock back (RELEASE of check-lock.ts) when named.
const MARK_PUSHED = `
local pushed = tonumber(redis.call('HGET', KEYS[1], 'pushedVersion') or '0')
if tonumber(ARGV[1]) > pushed then redis.call('HSET', KEYS[1], 'pushedVersion', ARGV[1]) end
redis.call('HSET', KEYS[1], 'remoteId', ARGV[2])
if KEYS[2] and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`;

// KEYS[1] the writer's lock, KEYS[2] check hash; ARGV: owner, lock ms. The lock (SET NX PX) and, when
// taken, the check's fields: one round trip where a lock and a read took two.
const CLAIM = `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return {0} end
return {1, redis.call('HGETALL', KEYS[2])}`;

export class CheckStore {
  constructor(private readonly redis: Redis) {}

  /** Records a new desired state; returns its version, or 0 when a later state is already recorded. */
  async advance(checkKey: string, target: CheckTarget, report: StatusReport, generation = 0, about?: CheckAbout): Promise<number> {
    const order = generation * 10 + RANK[report.status];
    const aboutJson = about ? JSON.stringify({ upstream: { projectId: about.upstream.projectId }, downstreamId: about.downstreamId, ...(about.chain ? { chain: { id: about.chain.id, path: about.chain.path } } : {}) }) : "";
    const v = await this.redis.eval(ADVANCE, 1, this.k(checkKey), order, JSON.stringify(target), JSON.stringify(report), TTL_S, aboutJson);
    return Number(v);
  }

  async get(checkKey: string): Promise<StoredCheck | undefined> {
    return stored(await this.redis.hgetall(this.k(checkKey)));
  }

  /** Many checks in one round trip (a pipeline), in the order asked; undefined where there is none. */
  async getMany(checkKeys: string[]): Promise<(StoredCheck | undefined)[]> {
    if (checkKeys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const k of checkKeys) pipeline.hgetall(this.k(k));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, h]) => {
      if (error) throw error;
      return stored(h as Record<string, string>);
    });
  }

  /**
   * Takes the check's writer lock (`lockKey`, held by `owner` for `lockMs`) and, when taken, reads
   * the check in the same step: a `Claim` for withCheckLock.
   */
  async claim(checkKey: string, lockKey: string, owner: string, lockMs: number): Promise<Claimed<StoredCheck | undefined>> {
    const [taken, fields = []] = (await this.redis.eval(CLAIM, 2, lockKey, this.k(checkKey), owner, String(lockMs))) as [number, string[]?];
    if (taken !== 1) return { held: false };
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) h[fields[i]!] = fields[i + 1]!;
    return { held: true, read: stored(h) };
  }

  /** Marks `version` pushed as `remoteId`; with `lock`, gives that writer lock back in the same step. */
  async markPushed(checkKey: string, version: number, remoteId: string, lock?: { key: string; owner: string }): Promise<void> {
    if (lock) await this.redis.eval(MARK_PUSHED, 2, this.k(checkKey), lock.key, version, remoteId, lock.owner);
    else await this.redis.eval(MARK_PUSHED, 1, this.k(checkKey), version, remoteId);
  }

  private k(checkKey: string): string {
    return key("check", checkKey);
  }
}

/** A check's hash as read (HGETALL), or undefined when it holds no check. */
function stored(h: Record<string, string>): StoredCheck | undefined {
  if (!h.report || !h.target) return undefined;
  return {
    target: CheckTarget.parse(JSON.parse(h.target)),
    report: JSON.parse(h.report) as StatusReport,
    about: h.about ? CheckAbout.parse(JSON.parse(h.about)) : undefined,
    version: Number(h.version ?? 0),
    pushedVersion: Number(h.pushedVersion ?? 0),
    remoteId: h.remoteId || undefined,
  };
}
