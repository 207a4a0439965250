import { afterAll, beforeAll } from "@jest/globals";
import type { Redis } from "ioredis";
import { pino, type Level, type Logger } from "pino";
import type { Systems } from "../../src/forge/registry.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { Recorder } from "../../src/history/recorder.js";
import type { DependencyMap } from "../../src/map/graph.js";
import type { TriggerJob } from "../../src/queue/job-data.js";
import { triggerJobId } from "../../src/queue/job-ids.js";
import { createQueues, type Queues } from "../../src/queue/queues.js";
import { CheckStore } from "../../src/report/check-store.js";
import { checkName } from "../../src/report/check-text.js";
import { CommitViews } from "../../src/report/commit-views.js";
import { Gates } from "../../src/report/gates.js";
import { SeenTags } from "../../src/report/seen-tags.js";
import { TriggerRecords } from "../../src/report/trigger-records.js";
import { Sinks } from "../../src/sinks/sinks.js";
import { DeclaredQuota } from "../../src/trust/declared-quota.js";
import { UpstreamSurface } from "../../src/trust/upstream-surface.js";
import { ProjectVisibility } from "../../src/trust/visibility.js";
import { VisibilityStore, type Visibility } from "../../src/trust/visibility-store.js";
import type { WorkerDeps } from "../../src/workers/deps.js";

/**
 * The workers' dependencies as src/roles/worker-role.ts wires them, in-process on a test's own Redis, for the
 * tests that drive worker functions directly (the *-mutants files): the forge's side is `systems`
 * (a MemoryForge), a project's visibility on it `visibilityOf` (asked at every look-up).
 */

/** The upstream commit of these tests' triggers, and the time their jobs were queued. */
export const SHA = "0123456789abcdef0123456789abcdef01234567";
export const ISO = "2030-01-01T00:00:00.000Z";

/** One line a test's logger wrote (pino's JSON, parsed): its level, its message and its fields. */
export interface LogLine { level: number; msg: string; [field: string]: unknown }

/** pino's levels, as a LogLine carries them. */
export const DEBUG = 20;
export const INFO = 30;
export const WARN = 40;
export const ERROR = 50;

/** A logger that keeps every line it writes at `level` and above (debug unless told), in `lines`: a fresh one each call. */
export function capturedLog(level: Level = "debug"): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { log: pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) }), lines };
}

/**
 * The relay's queues on a test file's Redis (`redis` from useTestRedisClient, called after it), opened before the
 * file's tests and closed after them, logging nothing: `queues()` inside the tests.
 */
export function useWorkerQueues(redis: () => Redis): () => Queues {
  let queues: Queues | undefined;
  beforeAll(() => {
    queues = createQueues(redis(), pino({ level: "silent" }));
  });
  afterAll(async () => {
    await queues?.close();
  });
  return () => queues!;
}

export interface WorkerDepsOptions {
  redis: Redis;
  queues: Queues;
  map: () => DependencyMap;
  log: Logger;
  systems: Systems;
  visibilityOf: (projectId: string) => Visibility;
  /** the fan-out and chain caps (default 100 each); "none": no caps at all, as the interface allows */
  limits?: WorkerDeps["limits"] | "none";
}

export function workerDeps(o: WorkerDepsOptions): WorkerDeps {
  const r = o.redis;
  const visibility = new ProjectVisibility({ map: o.map, store: new VisibilityStore(r), lookup: async (p) => o.visibilityOf(p.id), maxAgeMs: -1 });
  const checks = new CheckStore(r);
  const history = new Recorder({ store: new HistoryStore(r), privacy: { anyPrivate: async () => false }, sinks: new Sinks([], o.map, {}), queue: o.queues.sinks, sinkRetryMs: 10, log: o.log });
  return {
    map: o.map, queues: o.queues, checks, records: new TriggerRecords(r), seen: new SeenTags(r), gates: new Gates(r), visibility,
    visibilityStore: new VisibilityStore(r), surface: new UpstreamSurface(o.map, visibility), declaredQuota: new DeclaredQuota(r, 5),
    views: new CommitViews(r, checks), systems: o.systems, artifacts: undefined as never, history, redis: r, log: o.log, pollIntervalMs: 60_000,
    ...(o.limits === "none" ? {} : { limits: o.limits ?? { perEvent: 100, perChain: 100 } }),
  };
}

export const upstreamRef = (o: Partial<TriggerJob["upstream"]> = {}): TriggerJob["upstream"] => ({
  projectId: "up", forge: "github", repo: "upco/lib", installationId: 7, tag: "v1.0.0", sha: SHA, ...o,
});

/** A trigger job's data, as enqueueTriggers writes it. */
export function triggerData(downstreamId: string, o: Partial<TriggerJob> = {}): TriggerJob {
  const upstream = o.upstream ?? upstreamRef();
  return {
    runId: triggerJobId({ upstreamId: upstream.projectId, tag: upstream.tag, sha: SHA, downstreamId }), upstream, downstreamId,
    checkName: checkName(downstreamId), deliveryId: "d-1", enqueuedAt: ISO, attempt: 0, ...o,
  };
}

/** The error `work` rejects with; fails the test when it resolves instead. */
export async function rejection(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the work to fail");
}
