import { DelayedError, Worker, type Job, type Processor } from "bullmq";
import type { Redis } from "ioredis";
import { ChangeEvent } from "../events/change-event.js";
import { CheckEvent } from "../events/check-event.js";
import { PullHeadEvent } from "../events/pull-head-event.js";
import { RerunEvent } from "../events/rerun-event.js";
import { ArtifactGateJob, DeclarationJob, GatePollJob, MapRefreshJob, PollJob, RunEvent, TagEvent, TimeoutJob, WatchBatchJob, WatchPollJob } from "../queue/job-data.js";
import { KEY_PREFIX, QUEUES } from "../queue/names.js";
import { forgeBackoff } from "../queue/retry.js";
import type { WorkerDeps } from "./deps.js";
import { fanOut } from "./fan-out.js";
import { openGateFromHook } from "./gate.js";
import { processPoll } from "./poll.js";
import { processArtifactGate } from "./artifact-gate.js";
import { processGatePoll } from "./gate-poll.js";
import { processPullHead } from "./pull-requests.js";
import { processChange } from "./change.js";
import { processReport } from "./report.js";
import { processDeclaration } from "./declaration.js";
import { processMapRefresh } from "./map-refresh.js";
import { processRerun } from "./rerun.js";
import { processRun } from "./run-result.js";
import { processTimeout } from "./timeout.js";
import { processReconcile } from "./reconcile.js";
import { processWatchPoll } from "./watch.js";
import { processWatchBatch } from "./watch-batch.js";
import { processTrigger } from "./trigger.js";
import { processDelivery, type DeliveryDeps } from "../sinks/deliver.js";
import { ForgeError } from "../forge/errors.js";
import { HoldJob } from "../queue/hold.js";
import { jobsHeld } from "../metrics.js";

export interface Workers {
  /**
   * Stops taking jobs and waits up to `graceMs` for the active ones (none with `force`); then closes,
   * handing back what is still active (stalled-job recovery gives it to another worker). It always
   * ends: no worker's timer (lock renewal, stalled check) outlives it.
   */
  close(force?: boolean, graceMs?: number): Promise<void>;
}

const CONCURRENCY = { events: 4, trigger: 16, report: 16, sinks: 8 } as const;

/** Starts one BullMQ worker per queue; `connection` must allow blocking commands (maxRetriesPerRequest: null). */
export function startWorkers(connection: Redis, deps: WorkerDeps & { delivery: DeliveryDeps }): Workers {
  // The jobs running in this process, so that close() can wait for them itself: BullMQ's pause(false)
  // would, but when a job ends after close()'s grace period it reconnects the closed worker's connection.
  const running = new Set<Promise<unknown>>();
  const tracked = (processor: Processor): Processor => (job, token) => {
    const work = processor(job, token);
    running.add(work);
    void work.catch(() => undefined).finally(() => running.delete(work));
    return work;
  };
  const make = (name: keyof typeof QUEUES, processor: Processor) => {
    const worker = new Worker(QUEUES[name], tracked(holdingRateLimited(name, processor, deps.log)), {
      connection,
      prefix: KEY_PREFIX,
      concurrency: CONCURRENCY[name],
      // A job whose worker died (SIGKILL, a lost machine) is handed to another after about this long.
      ...(deps.jobLockMs ? { lockDuration: deps.jobLockMs, stalledInterval: deps.jobLockMs } : {}),
      settings: { backoffStrategy: forgeBackoff },
    });
    worker.on("error", (err) => deps.log.error({ err, queue: name }, "worker error"));
    worker.on("failed", (job, err) =>
      deps.log.warn({ queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, reason: err.message }, "job failed"),
    );
    return worker;
  };
  const jobLog = (queue: string, job: Job) =>
    deps.log.child({ queue, jobId: job.id, deliveryId: (job.data as { deliveryId?: string }).deliveryId });

  const workers = [
    make("events", async (job) => {
      const log = jobLog("events", job);
      await deps.visibilityStore.keepReported(job.data);
      switch (job.name) {
        case "run":
          return processRun(RunEvent.parse(job.data), deps, log);
        case "check":
          return openGateFromHook(deps, CheckEvent.parse(job.data), log);
        case "rerun":
          return processRerun(RerunEvent.parse(job.data), deps, log);
        case "pull-head":
          return processPullHead(PullHeadEvent.parse(job.data), deps, log);
        case "change":
          return processChange(ChangeEvent.parse(job.data), deps, log);
        case "map-refresh":
          return processMapRefresh(MapRefreshJob.parse(job.data), deps, log);
        case "reconcile":
          return processReconcile(deps, log);
        case "watch-poll":
          return processWatchPoll(WatchPollJob.parse(job.data), deps, log);
        case "watch-batch":
          return processWatchBatch(WatchBatchJob.parse(job.data), deps, log);
        case "declaration":
          return processDeclaration(DeclarationJob.parse(job.data), deps, log);
        default:
          return fanOut(TagEvent.parse(job.data), deps, log);
      }
    }),
    make("trigger", (job) => {
      const log = jobLog("trigger", job);
      switch (job.name) {
        case "timeout":
          return processTimeout(TimeoutJob.parse(job.data), deps, log);
        case "poll":
          return processPoll(PollJob.parse(job.data), deps, log);
        case "artifacts":
          return processArtifactGate(ArtifactGateJob.parse(job.data), deps, log);
        case "gate-poll":
          return processGatePoll(GatePollJob.parse(job.data), deps, log);
        default:
          return processTrigger(job, deps, log);
      }
    }),
    make("report", (job, token) => processReport(job, token, deps, jobLog("report", job))),
    make("sinks", (job) => processDelivery(job, deps.delivery, jobLog("sinks", job))),
  ];
  return {
    close: async (force = false, graceMs = 10_000) => {
      if (!force) {
        // No new jobs, then the running ones get up to graceMs. BullMQ's close(false) would wait for
        // them without limit, and a later close(true) only joins that wait; its pause(false) reopens
        // the worker's connection when a job ends after the grace period (test/unit/workers-start-mutants).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(workers.map((w) => w.pause(true))).then(() => Promise.allSettled([...running])).catch(() => undefined),
          new Promise((r) => (timer = setTimeout(r, graceMs))),
        ]);
        clearTimeout(timer);
      }
      await Promise.all(workers.map((w) => w.close(true)));
      await deps.delivery.transports?.close();
    },
  };
}

/** How long a rate-limited job waits when the forge did not say. */
const DEFAULT_HOLD_MS = 60_000;

/**
 * A job stopped by a forge limit (a budget spent, a pause the forge asked for, a 429 or a 403 with
 * retry-after) goes back to the delayed set until the limit lifts: it holds no worker meanwhile,
 * and spends none of its attempts, however long the limit lasts. Other jobs of the queue (other
 * installations, other projects) go on; BullMQ's queue-wide `worker.rateLimit` would stop them too.
 * A job that holds itself back (HoldJob: another delivery is telling a chat about the same release)
 * waits the same way, for as long as it says.
 */
function holdingRateLimited(queue: string, processor: Processor, log: WorkerDeps["log"]): Processor {
  return async (job, token) => {
    try {
      return await processor(job, token);
    } catch (error) {
      if (token !== undefined && error instanceof HoldJob) {
        await job.moveToDelayed(Date.now() + error.holdMs + Math.floor(Math.random() * 100), token);
        log.debug({ queue, jobId: job.id, waitMs: error.holdMs, reason: error.message }, "held: the job waits in the queue");
        throw new DelayedError();
      }
      if (!(error instanceof ForgeError) || error.kind !== "rate_limited" || token === undefined) throw error;
      const waitMs = (error.retryAfterMs ?? DEFAULT_HOLD_MS) + Math.floor(Math.random() * 250);
      await job.moveToDelayed(Date.now() + waitMs, token);
      jobsHeld.inc({ queue });
      log.info({ queue, jobId: job.id, waitMs, reason: error.message }, "rate limited: the job waits in the queue");
      throw new DelayedError();
    }
  };
}
