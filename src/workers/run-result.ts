import type { Logger } from "pino";
import type { RunEvent } from "../events/run-event.js";
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
export async function processRun(event: RunEvent, deps: WorkerDeps, log: Logger): Promise<{ correlated: boolean }> {
  const record = await correlate(event, deps);
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
  const forge = deps.forges.forLocation(project.location);
  const ended = event.source !== "check_suite" && event.state === "completed";
  const failedJobs = ended && event.conclusion === "failure"
    ? await forge.failedJobs(event.repo, event.runId).catch((err: unknown) => {
      log.warn({ err }, "could not list the failing jobs");
      return [];
    })
    : [];
  const artifacts = ended
    ? await forge.runArtifacts(event.repo, event.runId).catch((err: unknown) => {
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
 * Exactly by the run id the dispatch returned; else by the relay run id in the run's title (the
 * downstream's `run-name`) or, for CI reporting through checks, in a check run's name, external id
 * or title; only for a trigger of that same repository that got no run id back.
 * Never by time or ref alone: two triggers of one downstream could then be swapped.
 */
async function correlate(event: RunEvent, deps: WorkerDeps): Promise<TriggerRecord | undefined> {
  const exact = await deps.records.byDownstreamRun(event.forge, event.repo, event.runId);
  if (exact) return exact;
  const title = event.source === "check_suite"
    ? await deps.forges.forLocation({ forge: event.forge }).checkSuiteLabels(event.repo, event.runId.replace(/^suite-/, ""))
    : event.title;
  for (const [relayRunId] of title.matchAll(RELAY_RUN_ID)) {
    const record = await deps.records.get(relayRunId);
    if (record && record.forge === event.forge && record.downstreamRepo.toLowerCase() === event.repo.toLowerCase() && record.result.runId === undefined) {
      await deps.records.link(record, event.runId);
      return record;
    }
  }
  return undefined;
}
