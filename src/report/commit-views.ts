import type { Redis } from "ioredis";
import { checkKey } from "../queue/job-ids.js";
import { pushJob, VIEWS, type ViewKind } from "./settle.js";
import { key } from "../queue/names.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget, StoredCheck } from "./check-store.js";

export { VIEWS, type ViewKind } from "./settle.js";
const TTL_S = 60 * 60 * 24 * 30;

export interface LoadedView {
  target: CheckTarget;
  version: number;
  pushedVersion: number;
  /** What the forge returned last time (a check run id, or comment ids as JSON). */
  remote: string | undefined;
  members: StoredCheck[];
}

/**
 * Each view is recomputed from its members' latest states when it is pushed, so concurrent changes
 * never leave a stale view behind; a version counter says whether there is anything new to push.
 */
export class CommitViews {
  constructor(private readonly redis: Redis, private readonly checks: CheckStore) {}

  static keyFor(target: Pick<CheckTarget, "forge" | "host" | "repo" | "sha">): string {
    return checkKey({ upstream: target, sha: target.sha, name: "openci" });
  }

  /** Makes checks members of their commit's views, before any view is queued (see publishChecks). */
  async enroll(target: CheckTarget, memberKeys: string[]): Promise<void> {
    if (memberKeys.length === 0) return;
    const members = this.k(CommitViews.keyFor(target), "members");
    await this.redis.multi().sadd(members, ...memberKeys).expire(members, TTL_S).exec();
  }

  /** Whether a check was enrolled in its commit's views (it was shown there once). */
  async isMember(target: CheckTarget, memberKey: string): Promise<boolean> {
    return (await this.redis.sismember(this.k(CommitViews.keyFor(target), "members"), memberKey)) === 1;
  }

  /**
   * Queues a push of every view of a commit whose members (enrolled first) changed. A view's job
   * recomputes from the members' latest states when it runs, so one waiting job per view is enough:
   * later touches while it waits join it, and one touch while it runs leaves exactly one more to run
   * after it (BullMQ deduplication, keepLastIfActive). A fan-out to 1,000 dependants thus pushes
   * its roll-up a few times, not 1,000 times over 1,000 members. With a settle time
   * (OPENCI_REPORT_SETTLE_MS) the push waits that long first, so a commit whose checks change in
   * quick succession (queued, then dispatched) has its views written once.
   */
  async touch(queues: Queues, target: CheckTarget, settleMs?: number): Promise<void> {
    const commitKey = CommitViews.keyFor(target);
    const versions = await Promise.all(VIEWS.map(async (view) => {
      const results = await this.redis.multi()
        .hset(this.k(commitKey, view), "target", JSON.stringify(target))
        .hincrby(this.k(commitKey, view), "version", 1)
        .expire(this.k(commitKey, view), TTL_S)
        .exec();
      return Number(results?.[1]?.[1] ?? 0); // the HINCRBY's reply
    }));
    await queues.report.addBulk(VIEWS.map((view, i) => pushJob(view, commitKey, versions[i]!, settleMs)));
  }

  async load(view: ViewKind, commitKey: string): Promise<LoadedView | undefined> {
    const h = await this.redis.hgetall(this.k(commitKey, view));
    if (!h.target) return undefined;
    const memberKeys = await this.redis.smembers(this.k(commitKey, "members"));
    const members = (await this.checks.getMany(memberKeys)).filter((c): c is StoredCheck => c !== undefined);
    return {
      target: JSON.parse(h.target) as CheckTarget,
      version: Number(h.version ?? 0),
      pushedVersion: Number(h.pushedVersion ?? 0),
      remote: h.remote || undefined,
      members,
    };
  }

  /** The latest version of a commit's view (0: none recorded). */
  async version(view: ViewKind, commitKey: string): Promise<number> {
    return Number((await this.redis.hget(this.k(commitKey, view), "version")) ?? 0);
  }

  async markPushed(view: ViewKind, commitKey: string, version: number, remote: string | undefined): Promise<void> {
    const pushed = Number((await this.redis.hget(this.k(commitKey, view), "pushedVersion")) ?? 0);
    await this.redis.hset(this.k(commitKey, view), "pushedVersion", Math.max(pushed, version), "remote", remote ?? "");
  }

  private k(commitKey: string, part: string): string {
    return key("commit", commitKey, part);
  }
}
