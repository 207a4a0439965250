import type { Redis } from "ioredis";
import { TriggerJob } from "../queue/job-data.js";
import { placeKey } from "../queue/job-ids.js";
import { key } from "../queue/names.js";

/** The upstream repository a gate waits on. */
type Place = { forge: string; host?: string | undefined; repo: string };

const TTL_S = 30 * 24 * 3600;

/** Triggers waiting for an upstream check (`after_check`) on a commit, by relay run id. */
export class Gates {
  constructor(private readonly redis: Redis) {}

  async wait(place: Place, sha: string, checkName: string, trigger: TriggerJob): Promise<void> {
    const k = this.k(place, sha, checkName);
    await this.redis.multi().hset(k, trigger.runId, JSON.stringify(trigger)).expire(k, TTL_S).exec();
  }

  /** The triggers waiting for this check, left waiting. */
  async peek(place: Place, sha: string, checkName: string): Promise<TriggerJob[]> {
    const all = await this.redis.hgetall(this.k(place, sha, checkName));
    return Object.values(all).map((raw) => TriggerJob.parse(JSON.parse(raw)));
  }

  /** Removes and returns the triggers waiting for this check; each is handed out once. */
  async take(place: Place, sha: string, checkName: string): Promise<TriggerJob[]> {
    const k = this.k(place, sha, checkName);
    const [[, all] = [null, {}]] = ((await this.redis.multi().hgetall(k).del(k).exec()) ?? []) as [unknown, Record<string, string>][];
    return Object.values(all ?? {}).map((raw) => TriggerJob.parse(JSON.parse(raw)));
  }

  private k(place: Place, sha: string, checkName: string): string {
    return key("gate", placeKey(place), sha, Buffer.from(checkName).toString("base64url"));
  }
}
