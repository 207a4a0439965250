import type { Logger } from "pino";
import type { RunEvent } from "../events/run-event.js";
import { runPlaceOf, type Project } from "../map/graph.js";
import { runReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import type { TriggerRecord } from "../report/trigger-records.js";
import { cascadeFrom } from "./cascade.js";
import type { WorkerDeps } from "./deps.js";

const RELAY_RUN_ID = /\btrigger-[0-9a-f]{32}\b/g;

/**
 * A downstream run changed state: find the trigger that started it and show the new state on the
 * upstream check. Runs the relay did not start are ignored.
 */
export async function processRun(hooked: RunEvent, deps: WorkerDeps, log: Logger): Promise<{ correlated: boolean }> {
  let event = hooked;
  const record = await correlate(event, deps, log);
  if (!record) {
    log.debug({ repo: event.repo, runId: event.runId }, "run not started by the relay");
    return { correlated: false };
  }
  const { trigger } = record;
  const project = deps.map().project(trigger.downstreamId);
  if (!project) {
    log.warn({ downstream: trigger.downstreamId }, "run of a project no longer in the map: not reported");
    return { correlated: true };
  }
  const runPlace = runPlaceOf(project);
  const runner = deps.systems.runner(runPlace);
  if (event.source === "pipeline_hook" || event.source === "notification") {
    // A GitLab hook or a Jenkins notification is as good as the secret that signed it: it must come
    // from the triggered project's own instance (server), and what it says is taken from the API.
    const where = runPlace.host;
    if (normalisedHost(event.host) !== normalisedHost(where)) {
      log.warn({ downstream: project.id, host: event.host ?? "(default)", expected: where ?? "(default)" }, event.source === "notification"
        ? "Jenkins notification from another server than the triggered job's: ignored"
        : "pipeline hook from another GitLab instance than the triggered project's: ignored");
      return { correlated: false };
    }
    const status = await runner.runStatus(event.repo, event.runId);
    event = { ...event, state: status.state, conclusion: status.conclusion, webUrl: status.webUrl, startedAt: status.startedAt, updatedAt: status.updatedAt };
  }
  const ended = event.source !== "check_suite" && event.state === "completed";
  const failedJobs = ended && event.conclusion === "failure"
    ? await runner.failedJobs(event.repo, event.runId).catch((err: unknown) => {
      log.warn({ err }, "could not list the failing jobs");
      return [];
    })
    : [];
  const artifacts = ended
    ? await runner.runArtifacts(event.repo, event.runId).catch((err: unknown) => {
      log.warn({ err }, "could not list the run's artifacts");
      return [];
    })
    : [];
  const up = trigger.upstream;
  await publishCheck(deps, trigger, runReport(up, project, trigger.runId, { ...event, failedJobs }));
  await deps.history.run(trigger, {
    forge: event.forge, repo: event.repo, runId: event.runId, state: event.state, conclusion: event.conclusion, url: event.webUrl || undefined, source: event.source,
  }, failedJobs, artifacts, record.result);
  log.info({ downstream: project.id, runId: event.runId, state: event.state, conclusion: event.conclusion }, "downstream run reported upstream");
  if (event.state === "completed" && event.conclusion === "success") await cascadeFrom(trigger, deps, log);
  return { correlated: true };
}

/**
 * Exactly by the run id the dispatch returned (or the run a title match bound earlier); else by the
 * relay run id in the run's title (the downstream's `run-name`) or, for CI reporting through
 * checks, in a check run's name, external id or title. A title is anyone's to write (a pull
 * request's title is its runs' default name), so a title match counts only for a trigger of that
 * same repository that got no run id back, from a run that fits it (fitsTrigger), and binds the
 * trigger to that run once. Never by time or ref alone: two triggers of one downstream could then
 * be swapped.
 */
async function correlate(event: RunEvent, deps: WorkerDeps, log: Logger): Promise<TriggerRecord | undefined> {
  const exact = await deps.records.byDownstreamRun(event.forge, event.repo, event.runId);
  if (exact) return exact;
  const title = event.source === "check_suite"
    ? await deps.systems.runner(event).checkSuiteLabels(event.repo, event.runId.replace(/^suite-/, ""))
    : event.title;
  for (const [relayRunId] of title.matchAll(RELAY_RUN_ID)) {
    const record = await deps.records.get(relayRunId);
    if (!record || record.forge !== event.forge || record.downstreamRepo.toLowerCase() !== event.repo.toLowerCase() || record.result.runId !== undefined) continue;
    const misfit = event.source === "check_suite"
      ? await suiteMisfit(event, record, relayRunId, deps)
      : fitsTrigger(event, record, deps.map().project(record.trigger.downstreamId)?.trigger);
    if (misfit !== undefined) {
      log.warn({ repo: event.repo, runId: event.runId, relayRunId, reason: misfit }, "run names a relay run id but does not fit its trigger: ignored");
      continue;
    }
    if (await deps.records.link(record, event.runId)) return record;
    log.warn({ repo: event.repo, runId: event.runId, relayRunId }, "run names a relay run id already bound to another run: ignored");
  }
  return undefined;
}

/** A host or server URL compared the same however it is written (case, trailing slash); undefined is the default instance. */
const normalisedHost = (host: string | undefined) => (host ?? "").toLowerCase().replace(/\/+$/, "");

/** How far the forge's clock may be behind the relay's when it dates a run the relay just started. */
const CLOCK_SKEW_MS = 2 * 60_000;

/**
 * A check suite outlives one CI run (GitHub keeps one per app and commit), so for CI reporting
 * through checks the check run carrying the relay run id must itself have started after the trigger.
 */
async function suiteMisfit(event: RunEvent, record: TriggerRecord, relayRunId: string, deps: WorkerDeps): Promise<string | undefined> {
  const since = new Date(Date.parse(record.triggeredAt) - CLOCK_SKEW_MS);
  const recent = await deps.systems.runner(event).checkSuiteLabels(event.repo, event.runId.replace(/^suite-/, ""), since);
  return recent.includes(relayRunId) ? undefined : "its check run naming the relay run id started before the trigger";
}

/**
 * Why a run found by its title cannot be the one this trigger started, or undefined when it can:
 * it must be created after the trigger (less the clock skew) and, for GitHub Actions, be a run of
 * the triggered workflow started by the dispatch's event.
 */
function fitsTrigger(event: RunEvent, record: TriggerRecord, trigger: Project["trigger"]): string | undefined {
  const created = event.createdAt === undefined ? Number.NaN : Date.parse(event.createdAt);
  if (!(created >= Date.parse(record.triggeredAt) - CLOCK_SKEW_MS)) return "created before the trigger (or undated)";
  if (event.source !== "workflow_run") return undefined;
  const run = event.workflow;
  if (run === undefined) return "no workflow named";
  if (record.result.kind === "repository_dispatch") return run.event === "repository_dispatch" ? undefined : `started by ${run.event}, not repository_dispatch`;
  if (run.event !== "workflow_dispatch") return `started by ${run.event}, not workflow_dispatch`;
  const wanted = String(trigger?.workflow ?? "");
  const file = run.path.replace(/@.*$/, "").split("/").pop();
  return wanted !== "" && (file === wanted || (run.id !== undefined && String(run.id) === wanted)) ? undefined : `a run of ${run.path}, not of ${wanted || "the triggered workflow"}`;
}
