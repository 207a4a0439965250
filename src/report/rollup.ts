import type { Redis } from "ioredis";
import type { CheckConclusion, StatusReport } from "../forge/types.js";
import { checkKey, reportJobId } from "../queue/job-ids.js";
import { key } from "../queue/names.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore, CheckTarget, StoredCheck } from "./check-store.js";

export const ROLLUP_NAME = "openci";
const TTL_S = 60 * 60 * 24 * 30;
const PASSED: ReadonlySet<CheckConclusion> = new Set(["success", "neutral", "skipped"]);

/**
 * The roll-up check on an upstream commit ("3 of 4 downstreams passed"). Its members are the
 * downstream checks of that commit; its text is computed from their latest states when it is
 * pushed, so concurrent changes can never leave a stale count behind.
 */
export class Rollups {
  constructor(private readonly redis: Redis, private readonly checks: CheckStore) {}

  static keyFor(target: Pick<CheckTarget, "repo" | "sha">): string {
    return checkKey({ upstreamRepo: target.repo, sha: target.sha, name: ROLLUP_NAME });
  }

  /** Records that a member changed and queues a push of the roll-up. */
  async touch(queues: Queues, target: CheckTarget, memberKey?: string): Promise<void> {
    const rollupKey = Rollups.keyFor(target);
    const multi = this.redis.multi();
    if (memberKey) multi.sadd(this.k(rollupKey, "members"), memberKey).expire(this.k(rollupKey, "members"), TTL_S);
    multi.hset(this.k(rollupKey), "target", JSON.stringify(target)).hincrby(this.k(rollupKey), "version", 1).expire(this.k(rollupKey), TTL_S);
    const results = await multi.exec();
    const version = Number(results?.[results.length - 2]?.[1] ?? 0);
    await queues.report.add("rollup", { checkKey: rollupKey }, { jobId: reportJobId(`rollup-${rollupKey}`, version) });
  }

  async load(rollupKey: string) {
    const h = await this.redis.hgetall(this.k(rollupKey));
    if (!h.target) return undefined;
    const members = await this.redis.smembers(this.k(rollupKey, "members"));
    const checks = (await Promise.all(members.map((m) => this.checks.get(m)))).filter((c): c is StoredCheck => c !== undefined);
    return {
      target: JSON.parse(h.target) as CheckTarget,
      version: Number(h.version ?? 0),
      pushedVersion: Number(h.pushedVersion ?? 0),
      remoteId: h.remoteId || undefined,
      report: rollupReport(checks.map((c) => c.report)),
    };
  }

  async markPushed(rollupKey: string, version: number, remoteId: string): Promise<void> {
    const pushed = Number((await this.redis.hget(this.k(rollupKey), "pushedVersion")) ?? 0);
    await this.redis.hset(this.k(rollupKey), "pushedVersion", Math.max(pushed, version), "remoteId", remoteId);
  }

  private k(rollupKey: string, part = "state"): string {
    return key("rollup", rollupKey, part);
  }
}

const STATUS_WORD: Record<CheckConclusion, string> = {
  success: "passed", failure: "failed", cancelled: "cancelled", timed_out: "timed out",
  neutral: "neutral", skipped: "skipped", action_required: "needs action",
};

export function rollupReport(members: StatusReport[]): StatusReport {
  const sorted = [...members].sort((a, b) => a.name.localeCompare(b.name));
  const done = sorted.filter((m) => m.status === "completed");
  const passed = done.filter((m) => PASSED.has(m.conclusion ?? "neutral")).length;
  const pending = sorted.length - done.length;
  const title = `${passed} of ${sorted.length} downstreams passed${pending > 0 ? `, ${pending} still running` : ""}`;
  const rows = sorted.map((m) => {
    const state = m.status === "completed" ? STATUS_WORD[m.conclusion ?? "neutral"] : m.status.replace("_", " ");
    const link = m.detailsUrl ? `[run](${m.detailsUrl})` : "";
    return `| ${m.name.replace(/^openci: /, "")} | ${state} | ${link} |`;
  });
  return {
    name: ROLLUP_NAME,
    status: pending > 0 ? "in_progress" : "completed",
    conclusion: pending > 0 ? undefined : passed === sorted.length ? "success" : "failure",
    title,
    summary: ["| Downstream | Result | Run |", "|---|---|---|", ...rows].join("\n"),
    detailsUrl: undefined,
    externalId: ROLLUP_NAME,
  };
}
