import { Queue, type DefaultJobOptions } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { ChangeEvent } from "../events/change-event.js";
import type { CheckEvent } from "../events/check-event.js";
import type { PullHeadEvent } from "../events/pull-head-event.js";
import type { RerunEvent } from "../events/rerun-event.js";
import type { ArtifactGateJob, GatePollJob, DeclarationJob, MapRefreshJob, PollJob, ReportJob, RunEvent, SinkJob, TagEvent, TimeoutJob, TriggerJob, WatchPollJob, WatchBatchJob } from "./job-data.js";
import { KEY_PREFIX, QUEUES } from "./names.js";
import { FORGE_BACKOFF } from "./retry.js";

const DAY_S = 24 * 3600;

/**
 * Completed jobs are kept for a while so a deterministic id added again (a redelivery, the
 * create/push/release trio) is recognised and ignored rather than run twice.
 */
export const JOB_OPTIONS: Record<keyof typeof QUEUES, DefaultJobOptions> = {
  events: {
    attempts: 8,
    backoff: { type: FORGE_BACKOFF, delay: 1000 },
    removeOnComplete: { age: 3 * DAY_S, count: 50_000 },
    removeOnFail: { age: 14 * DAY_S },
  },
  trigger: {
    attempts: 10,
    backoff: { type: FORGE_BACKOFF, delay: 2000 },
    removeOnComplete: { age: 7 * DAY_S, count: 100_000 },
    removeOnFail: { age: 30 * DAY_S },
  },
  report: {
    attempts: 10,
    backoff: { type: FORGE_BACKOFF, delay: 1000 },
    removeOnComplete: { age: 1 * DAY_S, count: 100_000 },
    removeOnFail: { age: 14 * DAY_S },
  },
  sinks: {
    // attempts per sink (its `attempts`, default 10) are set when a delivery is queued
    backoff: { type: "exponential", delay: 2000 },
    removeOnComplete: { age: 7 * DAY_S, count: 100_000 },
    // dead letters: kept until re-driven (openci-relay sinks redrive)
    removeOnFail: false,
  },
};

/** What the events queue carries: normalised webhook events, map refreshes, the watcher's polls. */
type EventJob = TagEvent | RunEvent | CheckEvent | RerunEvent | PullHeadEvent | ChangeEvent | MapRefreshJob | DeclarationJob | WatchPollJob | WatchBatchJob | Record<string, never>;

export interface Queues {
  events: Queue<EventJob>;
  trigger: Queue<TriggerJob | TimeoutJob | PollJob | ArtifactGateJob | GatePollJob>;
  report: Queue<ReportJob>;
  sinks: Queue<SinkJob>;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, log: Logger): Queues {
  const make = <T>(name: keyof typeof QUEUES) => {
    const q = new Queue<T>(QUEUES[name], { connection, prefix: KEY_PREFIX, defaultJobOptions: JOB_OPTIONS[name] });
    q.on("error", (err) => log.error({ err, queue: name }, "queue error"));
    return q;
  };
  const queues = {
    events: make<EventJob>("events"), trigger: make<TriggerJob | TimeoutJob | PollJob | ArtifactGateJob | GatePollJob>("trigger"), report: make<ReportJob>("report"), sinks: make<SinkJob>("sinks"),
  };
  return {
    ...queues,
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}
