import type { StatusReport } from "../forge/roles.js";
import type { Project } from "../map/graph.js";
import type { UpstreamRef } from "../queue/job-data.js";
import { checkName, intro } from "./check-text.js";
import { neutralise, neutraliseProse } from "./neutralise.js";

/** An artifact the gate waits for, as the check names it: its package URL and what its registry said. */
export interface ArtifactState {
  purl: string;
  published: boolean;
  /** what the registry said beyond "not there" (yanked, …), or why it could not be asked */
  why?: string | undefined;
}

const MAX_LISTED = 20;

function list(states: ArtifactState[]): string {
  const lines = states.slice(0, MAX_LISTED).map((s) => `- ${s.published ? "published" : "**missing**"}: \`${neutralise(s.purl, 300)}\`${s.why ? ` (${neutraliseProse(s.why, 300)})` : ""}`);
  if (states.length > MAX_LISTED) lines.push(`- and ${states.length - MAX_LISTED} more`);
  return lines.join("\n");
}

const count = (states: ArtifactState[]) => `${states.filter((s) => s.published).length} of ${states.length} published`;

/** A downstream waiting for its upstream release's artifacts (`after_artifacts`). */
export function artifactsWaitingReport(up: UpstreamRef, project: Project, runId: string, states: ArtifactState[], timeout: string): StatusReport {
  return {
    name: checkName(project.id), status: "queued", conclusion: undefined,
    title: `Waiting for artifacts: ${count(states)}`,
    summary: `${intro(up, project)}\n\nIt starts once every artifact below is published (\`after_artifacts\`), looked for up to ${neutralise(timeout, 20)} (the edge's timeout):\n\n${list(states)}`,
    detailsUrl: undefined, externalId: runId,
  };
}

/** The artifacts were not all published within the edge's timeout (or cannot be checked): not triggered. */
export function artifactsMissingReport(up: UpstreamRef, project: Project | undefined, downstreamId: string, runId: string, states: ArtifactState[], reason: string): StatusReport {
  const missing = states.filter((s) => !s.published);
  const lead = project ? intro(up, project) : `Tag \`${neutralise(up.tag, 100)}\` of **${neutralise(up.projectId)}**.`;
  return {
    name: checkName(downstreamId), status: "completed", conclusion: "skipped",
    title: `Skipped: ${neutralise(downstreamId)} (artifacts missing: ${missing.length} of ${states.length})`,
    summary: `${lead}\n\nNot triggered: ${neutraliseProse(reason)}\n\n${list(states)}`,
    detailsUrl: undefined, externalId: runId,
  };
}
