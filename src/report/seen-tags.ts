import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/**
 * The tags the relay has seen per upstream project (by webhook or by the reconciler), and whether
 * the reconciler has taken its baseline there: the tags a project had when the relay first looked
 * are never triggered after the fact (no bulk action without a delivery asking for it).
 */
export class SeenTags {
  constructor(private readonly redis: Redis) {}

  async mark(projectId: string, tags: string[]): Promise<void> {
    if (tags.length > 0) await this.redis.sadd(this.k(projectId), ...tags);
  }

  /** Which of these tags were not seen yet. */
  async unseen(projectId: string, tags: string[]): Promise<string[]> {
    if (tags.length === 0) return [];
    const flags = await this.redis.smismember(this.k(projectId), ...tags);
    return tags.filter((_, i) => flags[i] === 0);
  }

  /** True the first time only: the caller takes the baseline then. */
  async takeBaseline(projectId: string): Promise<boolean> {
    return (await this.redis.set(key("seen-tags-baseline", projectId), new Date().toISOString(), "NX")) === "OK";
  }

  private k(projectId: string): string {
    return key("seen-tags", projectId);
  }
}
