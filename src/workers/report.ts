import { randomUUID } from "node:crypto";
import { DelayedError, UnrecoverableError, type Job } from "bullmq";
import { classifyHttpError } from "../forge/errors.js";
import type { Logger } from "pino";
import { ReportJob } from "../queue/job-data.js";
import { key } from "../queue/names.js";
import type { WorkerDeps } from "./deps.js";

const LOCK_MS = 60_000;
const BUSY_RETRY_MS = 250;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Pushes the latest desired state of one upstream check to its forge. One writer per check at a
 * time (a Redis lock); a job that finds the lock taken waits its turn without using an attempt.
 */
export async function processReport(job: Job, token: string | undefined, deps: WorkerDeps, log: Logger): Promise<string> {
  const { checkKey } = ReportJob.parse(job.data);
  const lockKey = key("lock", "check", checkKey);
  const owner = randomUUID();
  if ((await deps.redis.set(lockKey, owner, "PX", LOCK_MS, "NX")) !== "OK") {
    await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
    throw new DelayedError();
  }
  try {
    const stored = await deps.checks.get(checkKey);
    if (!stored) return "gone";
    if (stored.pushedVersion >= stored.version) return "current";
    const forge = deps.forges.forLocation({ forge: stored.target.forge }, { installationId: stored.target.installationId });
    const remoteId = await forge.reportStatus(stored.target, stored.report, stored.remoteId);
    await deps.checks.markPushed(checkKey, stored.version, remoteId);
    log.debug({ check: stored.report.name, status: stored.report.status, remoteId }, "upstream check updated");
    return remoteId;
  } catch (error) {
    const e = classifyHttpError(error, "updating the upstream check");
    if (e.kind !== "config") throw e;
    log.error({ err: e, hint: e.hint }, "upstream check cannot be written");
    throw new UnrecoverableError(e.hint ? `${e.message}. ${e.hint}` : e.message);
  } finally {
    await deps.redis.eval(RELEASE, 1, lockKey, owner);
  }
}
