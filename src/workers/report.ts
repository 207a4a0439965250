import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import { ReportJob } from "../queue/job-data.js";
import { withCheckLock } from "../report/check-lock.js";
import type { WorkerDeps } from "./deps.js";

/**
 * Pushes the latest desired state of one upstream check ("sync") or of a commit's roll-up
 * ("rollup") to its forge, one writer per check at a time.
 */
export async function processReport(job: Job, token: string | undefined, deps: WorkerDeps, log: Logger): Promise<string> {
  const { checkKey } = ReportJob.parse(job.data);
  return withCheckLock(deps.redis, checkKey, job, token, async () => {
    const stored = job.name === "rollup" ? await deps.rollups.load(checkKey) : await deps.checks.get(checkKey);
    if (!stored) return "gone";
    if (stored.pushedVersion >= stored.version) return "current";
    try {
      const forge = deps.forges.forLocation({ forge: stored.target.forge }, { installationId: stored.target.installationId });
      const remoteId = await forge.reportStatus(stored.target, stored.report, stored.remoteId);
      if (job.name === "rollup") await deps.rollups.markPushed(checkKey, stored.version, remoteId);
      else await deps.checks.markPushed(checkKey, stored.version, remoteId);
      log.debug({ check: stored.report.name, status: stored.report.status, remoteId }, "upstream check updated");
      return remoteId;
    } catch (error) {
      const e = classifyHttpError(error, "updating the upstream check");
      if (e.kind !== "config") throw e;
      log.error({ err: e, hint: e.hint }, "upstream check cannot be written");
      throw new UnrecoverableError(e.hint ? `${e.message}. ${e.hint}` : e.message);
    }
  });
}
