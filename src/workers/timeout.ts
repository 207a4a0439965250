import type { Logger } from "pino";
import { TimeoutJob } from "../queue/job-data.js";
import { checkKey } from "../queue/job-ids.js";
import { timedOutReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import type { WorkerDeps } from "./deps.js";

/** A delayed job per trigger: if the downstream has not reported by then, its upstream check ends timed_out. */
export async function processTimeout(data: TimeoutJob, deps: WorkerDeps, log: Logger): Promise<{ timedOut: boolean }> {
  const { trigger, timeout } = data;
  const up = trigger.upstream;
  const key = checkKey({ upstream: up, sha: up.sha, name: trigger.checkName });
  const current = await deps.checks.get(key);
  const record = async () => {
    const triggered = await deps.records.get(trigger.runId);
    await deps.history.run(trigger, {
      forge: triggered?.forge ?? "github", repo: triggered?.downstreamRepo ?? trigger.downstreamId, runId: triggered?.result.runId,
      state: "completed", conclusion: "timed_out", url: current?.report.detailsUrl, source: "timeout",
    });
  };
  if (current?.report.status === "completed") {
    // A retry of this job after the check was already timed out: the history gets it (once) all the same.
    if (current.report.conclusion === "timed_out" && current.report.externalId === trigger.runId) await record();
    return { timedOut: false };
  }
  const project = deps.map().project(trigger.downstreamId);
  const published = await publishCheck(deps, trigger, timedOutReport(up, project, trigger.downstreamId, trigger.runId, timeout, current?.report.detailsUrl));
  if (published) {
    log.warn({ downstream: trigger.downstreamId, timeout }, "downstream did not report in time");
    await record();
  }
  return { timedOut: published };
}
