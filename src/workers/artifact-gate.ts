import type { Logger } from "pino";
import { isUnderReview } from "../events/change-event.js";
import type { GateArtifact } from "../history/record.js";
import { artifactForTag, formatPurl, parseArtifact, parsePurl, PurlError, type ArtifactPurl } from "../artifacts/purl.js";
import type { PublishedArtifact } from "../artifacts/published.js";
import { classifyHttpError } from "../forge/errors.js";
import { artifactChecks } from "../metrics.js";
import { DEFAULT_TIMEOUT, parseDuration } from "../map/duration.js";
import { gatedArtifacts } from "../map/edge-artifacts.js";
import { ArtifactGateJob, type TriggerJob } from "../queue/job-data.js";
import { artifactGateJobId, checkKey } from "../queue/job-ids.js";
import { artifactsMissingReport, artifactsWaitingReport, type ArtifactState } from "../report/artifact-text.js";
import { publishCheck } from "../report/publish.js";
import type { WorkerDeps } from "./deps.js";

/** How long the gate waits between two looks: doubling from the first to the longest, never past the deadline. */
export const ARTIFACT_BACKOFF = { firstMs: 15_000, maxMs: 5 * 60_000 } as const;

/**
 * The artifacts a trigger waits for (its edge's `after_artifacts`, as the upstream writes them), or
 * undefined: no artifact gate, or one it has passed (it carries the artifacts), or a trigger the gate
 * does not apply to (a cascade, whose edge's gate is about its own upstream's tags; a pull request).
 */
export function awaitedArtifacts(deps: Pick<WorkerDeps, "map">, t: TriggerJob): string[] | undefined {
  if (t.chain || t.artifacts || isUnderReview(t.upstream.tag)) return undefined;
  const map = deps.map();
  const edge = map.edge(t.upstream.projectId, t.downstreamId);
  const list = edge ? gatedArtifacts(map.project(t.upstream.projectId), edge) : undefined;
  return list && list.length > 0 ? list : undefined;
}

/**
 * Starts the artifact gate of each trigger that has one (its upstream check shows the wait, the
 * history records it, its first look is queued under a deterministic id) and returns the others, to
 * trigger now. Safe to repeat: the look's job id and the record's key are the same each time.
 */
export async function startArtifactGates(deps: WorkerDeps, triggers: TriggerJob[], log: Logger): Promise<TriggerJob[]> {
  const rest: TriggerJob[] = [];
  for (const t of triggers) {
    const templates = awaitedArtifacts(deps, t);
    if (!templates) {
      rest.push(t);
      continue;
    }
    const project = deps.map().project(t.downstreamId);
    const timeout = deps.map().edge(t.upstream.projectId, t.downstreamId)?.timeout ?? DEFAULT_TIMEOUT;
    let purls: string[];
    try {
      purls = templates.map((x) => formatPurl(artifactForTag(parseArtifact(x), t.upstream.tag)));
    } catch (err) {
      if (!(err instanceof PurlError)) throw err;
      // This tag cannot name the artifact (an npm version that is not semver, …): nothing to wait for.
      const states = templates.map((purl) => ({ purl, published: false }));
      const reason = `the release's artifacts cannot be named: ${err.message} (${err.hint}).`;
      await deps.history.artifactGate(t, "failed", states, reason);
      await publishCheck(deps, t, artifactsMissingReport(t.upstream, project, t.downstreamId, t.runId, states, reason));
      log.warn({ downstream: t.downstreamId, tag: t.upstream.tag, reason }, "artifact gate: artifacts cannot be named for this tag, dependant skipped");
      continue;
    }
    const states = purls.map((purl) => ({ purl, published: false }));
    if (project) await publishCheck(deps, t, artifactsWaitingReport(t.upstream, project, t.runId, states, timeout));
    await deps.history.artifactGate(t, "waiting", states);
    const job: ArtifactGateJob = { trigger: t, artifacts: purls, deadline: new Date(Date.now() + parseDuration(timeout)).toISOString(), timeout, round: 0, seen: 0 };
    await deps.queues.trigger.add("artifacts", job, { jobId: artifactGateJobId(t.runId, 0) });
    log.info({ downstream: t.downstreamId, artifacts: purls, timeout }, "artifact gate: waiting for the release's artifacts");
  }
  return rest;
}

/**
 * One look: asks each artifact's registry; triggers the downstream once (under its run id) when every
 * one is published, with their digests; skips it, naming what is missing, at the deadline or when a
 * registry cannot be asked at all (`config`: only a person can fix it); else looks again after a backoff.
 * A registry that is down or rate-limits (`transient`) only delays the next look.
 */
export async function processArtifactGate(data: ArtifactGateJob, deps: WorkerDeps, log: Logger): Promise<{ decision: "passed" | "failed" | "waiting"; published: number }> {
  const { trigger: t, artifacts, round, seen } = ArtifactGateJob.parse(data);
  const up = t.upstream;
  const current = await deps.checks.get(checkKey({ upstream: up, sha: up.sha, name: t.checkName }));
  if (current?.report.status === "completed" && current.report.externalId === t.runId) return { decision: "failed", published: 0 };

  const states: (ArtifactState & { digests?: PublishedArtifact["digests"] })[] = [];
  let stop: string | undefined;
  for (const purl of artifacts) {
    try {
      const asked = parsePurl(purl) as ArtifactPurl;
      const answer = await deps.artifacts.published(asked).catch((error: unknown) => {
        artifactChecks.inc({ type: asked.type, outcome: "error" });
        throw error;
      });
      artifactChecks.inc({ type: asked.type, outcome: answer.published ? "published" : "missing" });
      states.push(answer.published ? { purl, published: true, digests: answer.digests } : { purl, published: false, why: answer.why });
    } catch (error) {
      const e = classifyHttpError(error, `checking ${purl}`);
      const why = e.hint ? `${e.message}. ${e.hint}` : e.message;
      states.push({ purl, published: false, why: e.kind === "config" ? why : `not answered this time: ${e.message}` });
      if (e.kind === "config") stop ??= `${purl} cannot be checked: ${why}`;
      else log.warn({ err: e, purl }, "artifact gate: registry not answering, will look again");
    }
  }
  const published = states.filter((s) => s.published).length;
  const record = (): GateArtifact[] => states.map((s) => ({ purl: s.purl, published: s.published, ...(s.digests ? { digests: s.digests } : {}) }));
  const project = deps.map().project(t.downstreamId);

  if (published === states.length) {
    await deps.history.artifactGate(t, "passed", record());
    // The tag → trigger latency is the relay's own: after a wait for the registries, it is not counted.
    const { receivedAt: _waited, ...rest } = t;
    const withArtifacts: TriggerJob = { ...(round === 0 ? t : rest), artifacts: states.map((s) => ({ purl: s.purl, digests: s.digests ?? [] })) };
    await deps.queues.trigger.add("trigger", withArtifacts, { jobId: t.runId });
    log.info({ downstream: t.downstreamId, artifacts, rounds: round + 1 }, "artifact gate passed: trigger enqueued");
    return { decision: "passed", published };
  }

  const deadline = Date.parse(data.deadline);
  const missing = states.filter((s) => !s.published).map((s) => s.purl);
  if (stop !== undefined || Date.now() >= deadline) {
    const reason = stop ?? `${missing.join(", ")} ${missing.length === 1 ? "was" : "were"} not published within ${data.timeout} (the edge's timeout).`;
    await deps.history.artifactGate(t, "failed", record(), reason);
    await publishCheck(deps, t, artifactsMissingReport(up, project, t.downstreamId, t.runId, states, reason));
    log.warn({ downstream: t.downstreamId, missing, reason }, "artifact gate failed: dependant skipped");
    return { decision: "failed", published };
  }

  if (published !== seen && project) await publishCheck(deps, t, artifactsWaitingReport(up, project, t.runId, states, data.timeout));
  const delay = Math.max(0, Math.min(ARTIFACT_BACKOFF.firstMs * 2 ** round, ARTIFACT_BACKOFF.maxMs, deadline - Date.now()));
  const next: ArtifactGateJob = { ...data, round: round + 1, seen: published };
  await deps.queues.trigger.add("artifacts", next, { jobId: artifactGateJobId(t.runId, round + 1), delay });
  return { decision: "waiting", published };
}
