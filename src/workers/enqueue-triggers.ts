import type { SystemKind } from "../forge/kinds.js";
import type { Logger } from "pino";
import type { Project } from "../map/graph.js";
import type { TriggerJob, UpstreamRef } from "../queue/job-data.js";
import { triggerJobId } from "../queue/job-ids.js";
import { checkName, gateWaitingReport, queuedReport } from "../report/check-text.js";
import { publishChecks } from "../report/publish.js";
import type { WorkerDeps } from "./deps.js";
import { openGate } from "./gate.js";
import { startArtifactGates } from "./artifact-gate.js";
import { scheduleGatePoll } from "./gate-poll.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../map/duration.js";
import { edgeFrom } from "./edge-from.js";
import { ReleasePlan } from "../history/release-plan.js";

/** What started the triggers: a tag, or a pull request's head ("pull/<n>"). */
export interface TriggerOrigin {
  forge: SystemKind;
  /** GitLab: the instance's host when it is not GITLAB_URL's */
  host?: string | undefined;
  repo: string;
  /** the tag, or "pull/<number>" */
  ref: string;
  installationId?: number | undefined;
  deliveryId: string;
  /** when the delivery arrived */
  receivedAt?: string | undefined;
}

export interface Work {
  upstream: Project;
  project: Project;
  /** the edge's after_check, if any */
  gate: string | undefined;
  /** set for a cascade: the chain it continues */
  chain?: TriggerJob["chain"];
}

/**
 * One trigger job per dependant under its deterministic id, and its upstream check: queued, or
 * waiting for its `after_check` gate (registered first, then looked up, so none is missed).
 */
export async function enqueueTriggers(deps: WorkerDeps, origin: TriggerOrigin, sha: string, work: Work[], log: Logger) {
  const enqueuedAt = new Date().toISOString();
  const jobs = work.map(({ upstream, project, gate, chain }) => {
    const up: UpstreamRef = {
      projectId: upstream.id, forge: origin.forge, ...(origin.host ? { host: origin.host } : {}), repo: origin.repo, installationId: origin.installationId, tag: origin.ref, sha,
    };
    const runId = triggerJobId({ upstreamId: upstream.id, tag: origin.ref, sha, downstreamId: project.id });
    const data: TriggerJob = {
      runId, upstream: up, downstreamId: project.id, checkName: checkName(project.id), deliveryId: origin.deliveryId, enqueuedAt, attempt: 0,
      // The tag → trigger latency is the relay's own: a gate's wait is not counted.
      ...(origin.receivedAt && gate === undefined ? { receivedAt: origin.receivedAt } : {}),
      ...(chain ? { chain } : {}),
    };
    return { up, project, data, gate };
  });
  const ungated = jobs.filter((j) => j.gate === undefined);
  const gated = jobs.filter((j) => j.gate !== undefined);
  // An `after_artifacts` edge waits for the release's artifacts first (its check shows the wait).
  const free = new Set(await startArtifactGates(deps, ungated.map((j) => j.data), log));
  const now = ungated.filter((j) => free.has(j.data));

  // Who the release was handed to, before any of it is queued: a chat's summary waits for each (release-plan.ts).
  const plan = new ReleasePlan(deps.redis);
  for (const upstreamId of new Set(jobs.map((j) => j.up.projectId))) {
    await plan.add(upstreamId, origin.ref, sha, jobs.filter((j) => j.up.projectId === upstreamId).map((j) => j.project.id));
  }
  // Trigger first, decorate after: the dispatches are queued before any upstream check is written.
  await deps.queues.trigger.addBulk(now.map((j) => ({ name: "trigger", data: j.data, opts: { jobId: j.data.runId } })));
  await publishChecks(deps, [...now, ...gated].map(({ up, project, data, gate }) => ({
    trigger: data,
    report: gate === undefined ? queuedReport(up, project, data.runId) : gateWaitingReport(up, project, data.runId, gate),
  })));
  for (const { data, gate } of gated) {
    await deps.gates.wait(origin, sha, gate!, data);
    await deps.history.gate(data, gate!, "waiting");
  }
  for (const gate of new Set(gated.map((j) => j.gate!))) {
    const state = await deps.systems.checks(origin).checkState(origin.repo, sha, gate, origin.ref);
    if (state?.completed) await openGate(deps, { forge: origin.forge, host: origin.host, repo: origin.repo, sha, name: gate, conclusion: state.conclusion ?? "neutral" }, log);
    // No hook will say when it ends (Gerrit's Zuul): look again, later and later, until the edges' timeout.
    else if (deps.systems.pollsChecks(origin.forge)) {
      const timeouts = gated.filter((j) => j.gate === gate).map((j) => parseDuration(edgeTimeout(deps, j.data) ?? DEFAULT_TIMEOUT));
      await scheduleGatePoll(deps, { forge: origin.forge, ...(origin.host ? { host: origin.host } : {}), repo: origin.repo, sha, name: gate, ref: origin.ref, round: 0, deadline: new Date(Date.now() + Math.max(...timeouts)).toISOString() });
    }
  }
  return { now: now.map((j) => j.project.id), gated: [...gated, ...ungated.filter((j) => !free.has(j.data))].map((j) => j.project.id) };
}

/** The timeout the edge of a trigger says, if it says one. */
function edgeTimeout(deps: WorkerDeps, t: TriggerJob): string | undefined {
  return deps.map().edge(edgeFrom(t), t.downstreamId)?.timeout;
}
