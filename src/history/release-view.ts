import type { Artifact, GateArtifact, HistoryRecord, ReleaseRecord } from "./record.js";

/** Where one downstream stands for a release, as the API and the dashboard show it. */
export type DownstreamStatus =
  | "gated" | "queued" | "in_progress" | "passed" | "failed" | "cancelled" | "timed_out" | "neutral" | "skipped" | "refused" | "error";

export interface RunView {
  /** the relay run id */
  run: string;
  attempt: number;
  status: DownstreamStatus;
  conclusion: string | undefined;
  url: string | undefined;
  failedJobs: string[];
  artifacts: Artifact[];
  /** the latest record of this run */
  cid: string;
  records: string[];
  chain: { id: string; path: string[] } | undefined;
  /** the `after_check` it waits for (or waited for); "after_artifacts" for an artifact gate */
  gate: string | undefined;
  /** an `after_artifacts` gate: the upstream release's artifacts as it last saw them (published with their digests and CIDs, or missing) */
  releaseArtifacts?: GateArtifact[] | undefined;
  updatedAt: string;
}

export interface DownstreamView extends RunView {
  project: string;
  /** every attempt (re-runs), oldest first; the fields above are the latest's */
  attempts: RunView[];
}

export interface ReleaseView {
  project: string;
  tag: string;
  /** the release records (one per commit the tag named), oldest first */
  releases: (ReleaseRecord & { cid: string })[];
  downstreams: DownstreamView[];
}

const FROM_CONCLUSION: Record<string, DownstreamStatus> = {
  success: "passed", failure: "failed", cancelled: "cancelled", timed_out: "timed_out", neutral: "neutral", skipped: "skipped", action_required: "failed",
};

/** Folds a release's records (oldest first) into each downstream's latest state. */
export function foldRuns(records: { cid: string; record: HistoryRecord }[]): { releases: (ReleaseRecord & { cid: string })[]; downstreams: DownstreamView[] } {
  const releases: (ReleaseRecord & { cid: string })[] = [];
  const runs = new Map<string, RunView & { project: string }>();
  for (const { cid, record: r } of records) {
    if (r.kind === "release") {
      releases.push({ ...r, cid });
      continue;
    }
    let v = runs.get(r.run);
    if (!v) {
      v = {
        project: r.downstream, run: r.run, attempt: 0, status: "queued", conclusion: undefined, url: undefined, failedJobs: [], artifacts: [],
        cid, records: [], chain: undefined, gate: undefined, updatedAt: r.at,
      };
      runs.set(r.run, v);
    }
    v.records.push(cid);
    if (r.kind === "test-output") continue;
    v.cid = cid;
    v.updatedAt = r.at;
    switch (r.kind) {
      case "gate":
        v.gate = r.check;
        if (r.artifacts) v.releaseArtifacts = r.artifacts;
        v.status = r.decision === "waiting" ? "gated" : r.decision === "failed" ? "skipped" : v.status === "gated" ? "queued" : v.status;
        if (r.decision === "failed") v.conclusion = "skipped";
        break;
      case "trigger":
        v.attempt = r.attempt;
        v.chain = r.chain;
        v.status = r.outcome === "triggered" ? (v.status === "gated" ? "queued" : rankMax(v.status, "queued")) : r.outcome === "refused" ? "refused" : "error";
        v.url = r.pipeline?.url ?? v.url;
        break;
      case "run":
        if (isFinal(v.status) && r.state !== "completed") break; // a late "in progress" after the end
        v.status = r.state === "completed" ? FROM_CONCLUSION[r.conclusion ?? "neutral"] ?? "neutral" : r.state === "in_progress" ? "in_progress" : rankMax(v.status, "queued");
        v.conclusion = r.conclusion;
        v.url = r.url ?? v.url;
        if (r.state === "completed") {
          v.failedJobs = r.failedJobs;
          v.artifacts = r.artifacts;
        }
        break;
    }
  }
  const byProject = new Map<string, (RunView & { project: string })[]>();
  for (const v of runs.values()) byProject.set(v.project, [...(byProject.get(v.project) ?? []), v]);
  const downstreams = [...byProject.entries()].map(([project, list]) => {
    const attempts = list.sort((a, b) => a.attempt - b.attempt || a.updatedAt.localeCompare(b.updatedAt)).map(({ project: _p, ...rest }) => rest);
    return { project, ...attempts[attempts.length - 1]!, attempts };
  });
  downstreams.sort((a, b) => a.project.localeCompare(b.project));
  return { releases, downstreams };
}

function isFinal(s: DownstreamStatus): boolean {
  return !["gated", "queued", "in_progress"].includes(s);
}

const RANK: Partial<Record<DownstreamStatus, number>> = { gated: 0, queued: 1, in_progress: 2 };
function rankMax(current: DownstreamStatus, next: DownstreamStatus): DownstreamStatus {
  return (RANK[current] ?? 9) >= (RANK[next] ?? 9) ? current : next;
}
