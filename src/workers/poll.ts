import type { Logger } from "pino";
import { runPlaceOf } from "../map/graph.js";
import { PollJob } from "../queue/job-data.js";
import { checkKey, pollJobId } from "../queue/job-ids.js";
import type { WorkerDeps } from "./deps.js";
import { processRun } from "./run-result.js";

/** Schedules the next look at a downstream run whose forge does not report it by webhook. */
export async function schedulePoll(deps: WorkerDeps, relayRunId: string, round: number): Promise<void> {
  await deps.queues.trigger.add("poll", { relayRunId, round }, { jobId: pollJobId(relayRunId, round), delay: deps.pollIntervalMs });
}

/**
 * Reads the downstream run; once it has ended, its result takes the same path as a webhook's. Stops
 * when the upstream check is already completed (a webhook or the timeout got there first).
 */
export async function processPoll(data: PollJob, deps: WorkerDeps, log: Logger): Promise<{ done: boolean }> {
  const { relayRunId, round } = PollJob.parse(data);
  const record = await deps.records.get(relayRunId);
  if (!record || record.result.runId === undefined) return { done: true };
  const up = record.trigger.upstream;
  const current = await deps.checks.get(checkKey({ upstream: up, sha: up.sha, name: record.trigger.checkName }));
  if (current?.report.status === "completed" && current.report.externalId === relayRunId) return { done: true };

  const project = deps.map().project(record.trigger.downstreamId);
  const runner = deps.systems.runner(project ? runPlaceOf(project) : { forge: record.forge, repo: record.downstreamRepo });
  const run = await runner.runStatus(record.downstreamRepo, record.result.runId);
  await processRun({
    forge: record.forge, source: "poll", repo: record.downstreamRepo, runId: record.result.runId, title: "",
    state: run.state, conclusion: run.conclusion, webUrl: run.webUrl, startedAt: run.startedAt, updatedAt: run.updatedAt,
    deliveryId: `poll-${relayRunId}-${round}`,
  }, deps, log);
  if (run.state === "completed") return { done: true };
  await schedulePoll(deps, relayRunId, round + 1);
  return { done: false };
}
