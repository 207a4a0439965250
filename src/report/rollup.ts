import type { CheckConclusion, StatusReport } from "../forge/roles.js";
import { markdownLink, neutralise } from "./neutralise.js";

/** The roll-up check on an upstream commit: "3 of 4 downstreams passed", with a table of all. */
export const ROLLUP_NAME = "openci";
export const PASSED: ReadonlySet<CheckConclusion> = new Set(["success", "neutral", "skipped"]);

/** The roll-up's button: re-runs every downstream of the commit that did not pass. */
export const RERUN_FAILED = { label: "Re-run failed", description: "Trigger the failed downstreams again", identifier: "rerun-failed" } as const;

export const STATUS_WORD: Record<CheckConclusion, string> = {
  success: "passed", failure: "failed", cancelled: "cancelled", timed_out: "timed out",
  neutral: "neutral", skipped: "skipped", action_required: "needs action",
};

/** A member check's downstream, for a Markdown table cell: its id comes from the map or its own declaration. */
export const downstreamCell = (m: StatusReport) => neutralise(m.name.replace(/^openci: /, ""));
/** A member check's run link, validated; `none` when it has none. */
export const runCell = (m: StatusReport, none: string) => (m.detailsUrl ? markdownLink("run", m.detailsUrl) : none);

export function rollupReport(members: StatusReport[]): StatusReport {
  // Every downstream shown before may have left (turned private): the roll-up says so and ends neutral, never stays running.
  if (members.length === 0) {
    return {
      name: ROLLUP_NAME, status: "completed", conclusion: "neutral", title: "No downstream is shown on this commit",
      summary: "The downstreams shown here earlier are no longer shown (a repository turned private, or the map changed).",
      detailsUrl: undefined, externalId: ROLLUP_NAME,
    };
  }
  const sorted = [...members].sort((a, b) => a.name.localeCompare(b.name));
  const done = sorted.filter((m) => m.status === "completed");
  const passed = done.filter((m) => PASSED.has(m.conclusion ?? "neutral")).length;
  const pending = sorted.length - done.length;
  const title = `${passed} of ${sorted.length} downstreams passed${pending > 0 ? `, ${pending} still running` : ""}`;
  const rows = sorted.map((m) => {
    const state = m.status === "completed" ? STATUS_WORD[m.conclusion ?? "neutral"] : m.status.replace("_", " ");
    return `| ${downstreamCell(m)} | ${state} | ${runCell(m, "")} |`;
  });
  return {
    name: ROLLUP_NAME,
    status: pending > 0 ? "in_progress" : "completed",
    conclusion: pending > 0 ? undefined : passed === sorted.length ? "success" : "failure",
    title,
    summary: ["| Downstream | Result | Run |", "|---|---|---|", ...rows].join("\n"),
    detailsUrl: undefined,
    externalId: ROLLUP_NAME,
    ...(pending === 0 && passed < sorted.length ? { actions: [{ ...RERUN_FAILED }] } : {}),
    // Once every downstream has ended: who they were, for a reporter that writes a single message then (Gerrit).
    ...(pending === 0 ? { members: sorted.map((m) => ({ name: m.name, conclusion: m.conclusion, detailsUrl: m.detailsUrl, runId: m.externalId })) } : {}),
  };
}
