import type { StatusReport } from "../forge/roles.js";
import type { CheckTarget } from "./check-store.js";
import { neutraliseList } from "./neutralise.js";
import { PASSED, STATUS_WORD, downstreamCell, runCell } from "./rollup.js";

/** Hidden in the comment; finds it again on any later change, redelivery or retry. */
export const commentMarker = (target: Pick<CheckTarget, "sha">) => `<!-- openci-relay:failures:${target.sha} -->`;

const failing = (m: StatusReport) => m.status === "completed" && !PASSED.has(m.conclusion ?? "neutral");

/**
 * The upstream failure comment: the failing downstreams with links and failing jobs, or, once a
 * comment exists and nothing fails any more, that they pass now. Undefined when there is nothing to say.
 */
export function failureComment(target: CheckTarget, members: StatusReport[], commentExists: boolean): string | undefined {
  const sorted = [...members].sort((a, b) => a.name.localeCompare(b.name));
  const failed = sorted.filter(failing);
  if (failed.length === 0 && !commentExists) return undefined;
  const short = target.sha.slice(0, 7);
  const marker = commentMarker(target);
  if (sorted.length === 0) {
    return [marker, `### OpenCI: no downstream of \`${short}\` is shown here any more`, "", "The downstreams reported here earlier are no longer shown on this commit."].join("\n");
  }
  if (failed.length === 0) {
    const pending = sorted.filter((m) => m.status !== "completed").length;
    const head = pending > 0
      ? `### OpenCI: no downstream of \`${short}\` is failing now (${pending} still running)`
      : `### OpenCI: all ${sorted.length} downstreams of \`${short}\` pass now`;
    return [marker, head, "", "The failures reported here earlier have passed since.", "", ...table(sorted)].join("\n");
  }
  return [
    marker,
    `### OpenCI: ${failed.length} of ${sorted.length} downstream${sorted.length > 1 ? "s" : ""} of \`${short}\` failing`,
    "",
    "| Downstream | Result | Run | Failing jobs |",
    "|---|---|---|---|",
    // Fewer and shorter job names than in a check: one comment lists every failing downstream.
    ...failed.map((m) => `| ${downstreamCell(m)} | ${STATUS_WORD[m.conclusion ?? "neutral"]} | ${runCell(m, "–")} | ${neutraliseList(m.failedJobs ?? [], 10, 100).join(", ") || "–"} |`),
    "",
    "This comment is kept up to date by OpenCI Relay as results change.",
  ].join("\n");
}

function table(members: StatusReport[]): string[] {
  return [
    "| Downstream | Result | Run |",
    "|---|---|---|",
    ...members.map((m) => `| ${downstreamCell(m)} | ${m.status === "completed" ? STATUS_WORD[m.conclusion ?? "neutral"] : m.status.replace("_", " ")} | ${runCell(m, "–")} |`),
  ];
}
