import type { StatusReport, TriggerResult } from "../forge/types.js";
import type { Project } from "../map/graph.js";
import type { UpstreamRef } from "../queue/job-data.js";

/** Name of the upstream check that shows one downstream, e.g. "openci: acme/app". */
export const checkName = (downstreamId: string) => `openci: ${downstreamId}`;

const short = (sha: string) => sha.slice(0, 7);

function how(project: Project): string {
  const t = project.trigger ?? {};
  if (t.event_type !== undefined) return `a \`repository_dispatch\` (\`${t.event_type}\`)`;
  if (t.workflow !== undefined) return `workflow \`${t.workflow}\` on \`${t.ref ?? "main"}\``;
  return `its pipeline on \`${t.ref ?? "the default branch"}\``;
}

function where(project: Project): string {
  return project.location.forge === "github" ? project.location.repo : project.location.project;
}

function intro(up: UpstreamRef, project: Project): string {
  return `Tag \`${up.tag}\` of **${up.projectId}** (commit \`${short(up.sha)}\`) starts ${how(project)} in **${where(project)}**.`;
}

export function queuedReport(up: UpstreamRef, project: Project, runId: string): StatusReport {
  return {
    name: checkName(project.id),
    status: "queued",
    conclusion: undefined,
    title: `Queued: ${project.id}`,
    summary: `${intro(up, project)}\n\nThe trigger is queued.`,
    detailsUrl: undefined,
    externalId: runId,
  };
}

export function dispatchedReport(up: UpstreamRef, project: Project, runId: string, result: TriggerResult): StatusReport {
  const run = result.runId !== undefined ? `[run ${result.runId}](${result.webUrl})` : `[its runs](${result.webUrl})`;
  return {
    name: checkName(project.id),
    status: "in_progress",
    conclusion: undefined,
    title: `Triggered: ${project.id}`,
    summary: `${intro(up, project)}\n\nTriggered through ${result.kind}; see ${run}.\n\nRelay run id: \`${runId}\``,
    detailsUrl: result.webUrl,
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
  const lead = project ? intro(up, project) : `Tag \`${up.tag}\` of **${up.projectId}** (commit \`${short(up.sha)}\`).`;
  return {
    name: checkName(downstreamId),
    status: "completed",
    conclusion: "failure",
    title: `Could not trigger ${downstreamId}`,
    summary: `${lead}\n\nThe relay could not start the downstream pipeline: ${reason}${hint ? `\n\n**How to fix:** ${hint}` : ""}\n\nRelay run id: \`${runId}\``,
    detailsUrl: undefined,
    externalId: runId,
  };
}
