import type { Logger } from "pino";
import type { CheckEvent } from "../events/check-event.js";
import { gateFailedReport } from "../report/check-text.js";
import { publishCheck } from "../report/publish.js";
import type { WorkerDeps } from "./deps.js";
import { startArtifactGates } from "./artifact-gate.js";

/**
 * A hook says an upstream check finished. Where the system does not sign its hooks itself (GitLab:
 * a hook is only as good as the shared secret that signed it), the check's state is read through
 * the API first, and only what the API says opens or skips the gate. GitHub's check_run deliveries
 * are signed by GitHub itself and taken as they are.
 */
export async function openGateFromHook(deps: WorkerDeps, check: CheckEvent, log: Logger): Promise<{ released: number; skipped: number }> {
  if (deps.systems.signsCheckHooks(check.forge)) return openGate(deps, check, log);
  const state = await deps.systems.checks(check).checkState(check.repo, check.sha, check.name, check.ref);
  if (!state?.completed || state.conclusion === undefined) {
    log.warn({ repo: check.repo, sha: check.sha, gate: check.name, said: check.conclusion, api: state ?? null }, `${check.forge} says the check has not ended: hook ignored`);
    return { released: 0, skipped: 0 };
  }
  if (state.conclusion !== check.conclusion) log.warn({ repo: check.repo, gate: check.name, said: check.conclusion, api: state.conclusion }, `the hook's result is not what ${check.forge}'s API says: the API's is taken`);
  return openGate(deps, { ...check, conclusion: state.conclusion }, log);
}

/**
 * An upstream check finished: the triggers waiting for it (`after_check`) start if it succeeded,
 * and end as skipped with the reason if it did not. Each waiting trigger is handed out once.
 */
export async function openGate(
  deps: WorkerDeps,
  check: Pick<CheckEvent, "forge" | "host" | "repo" | "sha" | "name" | "conclusion">,
  log: Logger,
): Promise<{ released: number; skipped: number }> {
  // Recorded before they are handed out (idempotent), so a retry after a failure here records them still.
  const decision = check.conclusion === "success" ? "passed" : "failed";
  for (const t of await deps.gates.peek(check, check.sha, check.name)) await deps.history.gate(t, check.name, decision, check.conclusion);
  const waiting = await deps.gates.take(check, check.sha, check.name);
  if (waiting.length === 0) return { released: 0, skipped: 0 };
  if (check.conclusion === "success") {
    try {
      // An edge that also says `after_artifacts` waits for the release's artifacts next.
      const now = await startArtifactGates(deps, waiting, log);
      await deps.queues.trigger.addBulk(now.map((t) => ({ name: "trigger", data: t, opts: { jobId: t.runId } })));
    } catch (error) {
      // Not handed out after all: back to waiting, for the retry of this job.
      for (const t of waiting) await deps.gates.wait(check, check.sha, check.name, t);
      throw error;
    }
    log.info({ repo: check.repo, sha: check.sha, gate: check.name, downstreams: waiting.map((t) => t.downstreamId) }, "gate passed: triggers enqueued");
    return { released: waiting.length, skipped: 0 };
  }
  for (const t of waiting) {
    const up = t.upstream;
    await publishCheck(deps, t, gateFailedReport(up, deps.map().project(t.downstreamId), t.downstreamId, t.runId, check.name, check.conclusion));
  }
  log.info({ repo: check.repo, sha: check.sha, gate: check.name, conclusion: check.conclusion }, "gate failed: dependants skipped");
  return { released: 0, skipped: waiting.length };
}
