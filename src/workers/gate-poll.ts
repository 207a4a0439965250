import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import { GatePollJob } from "../queue/job-data.js";
import { gatePollJobId } from "../queue/job-ids.js";
import type { WorkerDeps } from "./deps.js";
import { openGate } from "./gate.js";

/** The first look again after 15 s, then twice as long each time, at most every 5 minutes. */
export const GATE_POLL_BACKOFF = { firstMs: 15_000, maxMs: 5 * 60_000 } as const;

/** Queues the next look at an upstream check no hook reports (a Gerrit project's Zuul buildset). */
export async function scheduleGatePoll(deps: Pick<WorkerDeps, "queues">, data: GatePollJob, delayMs?: number): Promise<void> {
  const delay = delayMs ?? Math.min(GATE_POLL_BACKOFF.firstMs * 2 ** data.round, GATE_POLL_BACKOFF.maxMs);
  const wait = Math.max(0, Math.min(delay, Date.parse(data.deadline) - Date.now()));
  await deps.queues.trigger.add("gate-poll", data, { jobId: gatePollJobId(data), delay: wait });
}

/**
 * Reads the upstream check a gate waits for; once it has ended, the gate opens (or fails) as for a
 * hook. While it runs, looks again later; past the deadline (the edges' timeout) it stops looking
 * and the waiting downstreams time out as any other. A read that fails for a passing reason is
 * retried at the same pace; one that cannot succeed (no Zuul named, a wrong tenant) stops, logged.
 */
export async function processGatePoll(data: GatePollJob, deps: WorkerDeps, log: Logger): Promise<{ done: boolean }> {
  const job = GatePollJob.parse(data);
  const waiting = await deps.gates.peek(job, job.sha, job.name);
  if (waiting.length === 0) return { done: true };
  let state;
  try {
    state = await deps.systems.checks(job).checkState(job.repo, job.sha, job.name, job.ref);
  } catch (error) {
    const e = classifyHttpError(error, `reading the upstream check ${job.name} of ${job.repo}`);
    if (e.kind === "config") {
      log.error({ repo: job.repo, gate: job.name, err: e.message, hint: e.hint }, "gate: the upstream check cannot be read; the waiting downstreams will time out");
      return { done: true };
    }
    log.warn({ repo: job.repo, gate: job.name, err: e.message }, "gate: cannot read the upstream check now; looking again later");
  }
  if (state?.completed) {
    await openGate(deps, { forge: job.forge, host: job.host, repo: job.repo, sha: job.sha, name: job.name, conclusion: state.conclusion ?? "neutral" }, log);
    return { done: true };
  }
  if (Date.now() >= Date.parse(job.deadline)) return { done: true };
  await scheduleGatePoll(deps, { ...job, round: job.round + 1 });
  return { done: false };
}
