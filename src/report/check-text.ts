import type { CheckConclusion, StatusReport, TriggerResult } from "../forge/roles.js";
import { repoOf, type Project } from "../map/graph.js";
import type { UpstreamRef } from "../queue/job-data.js";
import { markdownLink, neutralise, neutraliseList, neutraliseProse, safeUrl } from "./neutralise.js";

// The relay run id is not printed in summaries anyone can read: it is what a forged run title
// would carry (issue 16). The check's external id keeps it, for re-runs; results by title are
// accepted only from runs that fit the trigger (run-result.ts), and only once.

/** Name of the upstream check that shows one downstream, e.g. "openci: acme/app". */
export const checkName = (downstreamId: string) => `openci: ${downstreamId}`;

const short = (sha: string) => sha.slice(0, 7);
/** A value from the map or a repository's own declaration, e.g. a workflow file or a ref. */
const setting = (value: string) => neutralise(value, 100);

function how(project: Project): string {
  const t = project.trigger ?? {};
  if (t.event_type !== undefined) return `a \`repository_dispatch\` (\`${setting(t.event_type)}\`)`;
  if (t.workflow !== undefined) return `workflow \`${setting(String(t.workflow))}\` on \`${setting(t.ref ?? "main")}\``;
  return `its pipeline on \`${t.ref !== undefined ? setting(t.ref) : "the default branch"}\``;
}

const tagOf = (up: UpstreamRef) => `Tag \`${setting(up.tag)}\` of **${neutralise(up.projectId)}**`;

export function intro(up: UpstreamRef, project: Project): string {
  return `${tagOf(up)} (commit \`${short(up.sha)}\`) starts ${how(project)} in **${neutralise(repoOf(project))}**.`;
}

export function queuedReport(up: UpstreamRef, project: Project, runId: string): StatusReport {
  return {
    name: checkName(project.id),
    status: "queued",
    conclusion: undefined,
    title: `Queued: ${neutralise(project.id)}`,
    summary: `${intro(up, project)}\n\nThe trigger is queued.`,
    detailsUrl: undefined,
    externalId: runId,
  };
}

export function dispatchedReport(up: UpstreamRef, project: Project, runId: string, result: TriggerResult): StatusReport {
  const run = markdownLink(result.runId !== undefined ? `run ${result.runId}` : "its runs", result.webUrl);
  return {
    name: checkName(project.id),
    status: "in_progress",
    conclusion: undefined,
    title: `Triggered: ${neutralise(project.id)}`,
    summary: `${intro(up, project)}\n\nTriggered through ${result.kind}; see ${run}.`,
    detailsUrl: safeUrl(result.webUrl),
    externalId: runId,
  };
}

export function triggerFailedReport(
  up: UpstreamRef,
  project: Project | undefined,
  downstreamId: string,
  runId: string,
  reason: string,
  hint: string | undefined,
): StatusReport {
  const lead = project ? intro(up, project) : `${tagOf(up)} (commit \`${short(up.sha)}\`).`;
  return {
    name: checkName(downstreamId),
    status: "completed",
    conclusion: "failure",
    title: `Could not trigger ${neutralise(downstreamId)}`,
    summary: `${lead}\n\nThe relay could not start the downstream pipeline: ${neutraliseProse(reason)}${hint ? `\n\n**How to fix:** ${neutraliseProse(hint)}` : ""}`,
    detailsUrl: undefined,
    externalId: runId,
  };
}

const OUTCOME_TITLE: Record<CheckConclusion, string> = {
  success: "Passed", failure: "Failed", cancelled: "Cancelled", timed_out: "Timed out",
  neutral: "Neutral", skipped: "Skipped", action_required: "Needs action",
};

export interface RunOutcome {
  state: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion | undefined;
  webUrl: string;
  runId: string;
  startedAt?: string | undefined;
  updatedAt?: string | undefined;
  failedJobs: string[];
}

/** The upstream check for a downstream run that reported its state. */
export function runReport(up: UpstreamRef, project: Project, relayRunId: string, run: RunOutcome): StatusReport {
  const link = markdownLink(`run ${run.runId}`, run.webUrl);
  const id = neutralise(project.id);
  if (run.state !== "completed") {
    return {
      name: checkName(project.id), status: "in_progress", conclusion: undefined,
      title: `Running: ${id}`,
      summary: `${intro(up, project)}\n\nThe downstream ${link} is ${run.state.replace("_", " ")}.`,
      detailsUrl: safeUrl(run.webUrl), externalId: relayRunId,
    };
  }
  const conclusion = run.conclusion ?? "neutral";
  const lines = [
    intro(up, project),
    "",
    `| Downstream | Run | Result | Duration |`,
    `|---|---|---|---|`,
    `| ${id} | ${link} | ${OUTCOME_TITLE[conclusion].toLowerCase()} | ${duration(run.startedAt, run.updatedAt)} |`,
  ];
  if (run.failedJobs.length > 0) lines.push("", "**Failing jobs:**", ...neutraliseList(run.failedJobs).map((j) => `- ${j}`));
  const failed = run.failedJobs.length > 0 ? ` (${run.failedJobs.length} failing job${run.failedJobs.length > 1 ? "s" : ""})` : "";
  return {
    name: checkName(project.id), status: "completed", conclusion,
    title: `${OUTCOME_TITLE[conclusion]}: ${id}${failed}`,
    summary: lines.join("\n"), detailsUrl: safeUrl(run.webUrl), externalId: relayRunId, failedJobs: run.failedJobs,
  };
}

/** The upstream check of a downstream that never reported within its edge's timeout. */
export function timedOutReport(up: UpstreamRef, project: Project | undefined, downstreamId: string, relayRunId: string, timeout: string, detailsUrl: string | undefined): StatusReport {
  const lead = project ? intro(up, project) : `${tagOf(up)}.`;
  return {
    name: checkName(downstreamId), status: "completed", conclusion: "timed_out",
    title: `Timed out: ${neutralise(downstreamId)}`,
    summary: `${lead}\n\nNo result arrived from the downstream within ${setting(timeout)} (the edge's \`timeout\`).`,
    detailsUrl: safeUrl(detailsUrl), externalId: relayRunId,
  };
}

function duration(from: string | undefined, to: string | undefined): string {
  if (!from || !to) return "–";
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** A gated downstream, waiting for the upstream check named by its edge's `after_check`. */
export function gateWaitingReport(up: UpstreamRef, project: Project, runId: string, gate: string): StatusReport {
  return {
    name: checkName(project.id), status: "queued", conclusion: undefined,
    title: `Waiting for ${setting(gate)}: ${neutralise(project.id)}`,
    summary: `${intro(up, project)}\n\nIt starts once the upstream check \`${setting(gate)}\` succeeds on this commit (\`after_check\`).`,
    detailsUrl: undefined, externalId: runId,
  };
}

/** A gated downstream whose upstream check did not succeed: not triggered. */
export function gateFailedReport(up: UpstreamRef, project: Project | undefined, downstreamId: string, runId: string, gate: string, outcome: CheckConclusion): StatusReport {
  const lead = project ? intro(up, project) : `${tagOf(up)}.`;
  return {
    name: checkName(downstreamId), status: "completed", conclusion: "skipped",
    title: `Skipped: ${neutralise(downstreamId)} (${setting(gate)} ${OUTCOME_TITLE[outcome].toLowerCase()})`,
    summary: `${lead}\n\nNot triggered: the upstream check \`${setting(gate)}\` ended **${outcome}** on this commit, and this downstream waits for it to succeed (\`after_check\`).`,
    detailsUrl: undefined, externalId: runId,
  };
}

/** The merged map no longer allows this trigger (the edge was removed since it was queued): nothing ran. */
export function refusedReport(up: UpstreamRef, downstreamId: string, runId: string, reason: string): StatusReport {
  return {
    name: checkName(downstreamId),
    status: "completed",
    conclusion: "skipped",
    title: `Not triggered: the dependency map does not allow it`,
    summary: `${tagOf(up)} (commit \`${short(up.sha)}\`).\n\n${neutraliseProse(reason)}`,
    detailsUrl: undefined,
    externalId: runId,
  };
}
