import type { SystemKind } from "../forge/kinds.js";
import type { Redis } from "ioredis";
import type { TriggerResult } from "../forge/roles.js";
import type { TriggerJob } from "../queue/job-data.js";
import { key } from "../queue/names.js";

const TTL_S = 30 * 24 * 3600;

/** What the relay did for one trigger: the job, where the downstream lives, what the forge returned. */
export interface TriggerRecord {
  trigger: TriggerJob;
  forge: SystemKind;
  downstreamRepo: string;
  result: TriggerResult;
  triggeredAt: string;
}

/**
 * Triggers by relay run id, and by the downstream run id the forge returned, so a downstream run's
 * result finds the trigger that started it (and a retried trigger job finds that it already ran).
 */
export class TriggerRecords {
  constructor(private readonly redis: Redis) {}

  async get(relayRunId: string): Promise<TriggerRecord | undefined> {
    const raw = await this.redis.get(key("triggered", relayRunId));
    return raw ? (JSON.parse(raw) as TriggerRecord) : undefined;
  }

  /**
   * Notes that an attempt of this trigger is about to call the forge, before it does. Returns when
   * an earlier attempt did the same without recording an outcome: that attempt may have started the
   * pipeline, and the forge must be asked before triggering again.
   */
  async intend(relayRunId: string, now: Date = new Date()): Promise<Date | undefined> {
    const k = key("trigger-intent", relayRunId);
    const [[, earlier]] = (await this.redis.multi().get(k).set(k, now.toISOString(), "EX", TTL_S, "NX").exec()) as [[unknown, string | null], unknown];
    return earlier ? new Date(earlier) : undefined;
  }

  async save(record: TriggerRecord): Promise<void> {
    const multi = this.redis.multi().set(key("triggered", record.trigger.runId), JSON.stringify(record), "EX", TTL_S);
    if (record.result.runId !== undefined) {
      multi.set(this.runKey(record.forge, record.downstreamRepo, record.result.runId), record.trigger.runId, "EX", TTL_S);
    }
    await multi.exec();
  }

  /**
   * Binds a trigger that got no run id back to the downstream run found by its title, once: the
   * first run to claim it keeps it, and its later events find the trigger by run id. False when
   * another run got there first (a second run with the same title reports nothing).
   */
  async link(record: TriggerRecord, downstreamRunId: string): Promise<boolean> {
    const bound = key("trigger-bound", record.trigger.runId);
    const [[, won], [, holder]] = (await this.redis.multi().set(bound, downstreamRunId, "EX", TTL_S, "NX").get(bound).exec()) as [[unknown, string | null], [unknown, string | null]];
    if (won === null && holder !== downstreamRunId) return false;
    await this.redis.set(this.runKey(record.forge, record.downstreamRepo, downstreamRunId), record.trigger.runId, "EX", TTL_S);
    return true;
  }

  async byDownstreamRun(forge: string, repo: string, downstreamRunId: string): Promise<TriggerRecord | undefined> {
    const relayRunId = await this.redis.get(this.runKey(forge, repo, downstreamRunId));
    return relayRunId ? this.get(relayRunId) : undefined;
  }

  private runKey(forge: string, repo: string, runId: string): string {
    return key("downstream-run", forge, repo.toLowerCase(), runId);
  }
}
