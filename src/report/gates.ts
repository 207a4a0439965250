import type { Redis } from "ioredis";
import { TriggerJob } from "../queue/job-data.js";
import { key } from "../queue/names.js";

const TTL_S = 30 * 24 * 3600;

/** Triggers waiting for an upstream check (`after_check`) on a commit, by relay run id. */
export class Gates {
  constructor(private readonly redis: Redis) {}

  async wait(repo: string, sha: string, checkName: string, trigger: TriggerJob): Promise<void> {
    const k = this.k(repo, sha, checkName);
    await this.redis.multi().hset(k, trigger.runId, JSON.stringify(trigger)).expire(k, TTL_S).exec();
  }

  /** Removes and returns the triggers waiting for this check; each is handed out once. */
  async take(repo: string, sha: string, checkName: string): Promise<TriggerJob[]> {
    const k = this.k(repo, sha, checkName);
    const [[, all] = [null, {}]] = ((await this.redis.multi().hgetall(k).del(k).exec()) ?? []) as [unknown, Record<string, string>][];
    return Object.values(all ?? {}).map((raw) => TriggerJob.parse(JSON.parse(raw)));
  }

  private k(repo: string, sha: string, checkName: string): string {
    return key("gate", repo.toLowerCase(), sha, Buffer.from(checkName).toString("base64url"));
  }
}
