import { describe, expect, it } from "@jest/globals";
import type { HistoryRecord } from "../../src/history/record.js";
import { foldRuns } from "../../src/history/release-view.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
let n = 0;
const at = () => `2026-12-01T10:00:${String(n++).padStart(2, "0")}.000Z`;
const rel: HistoryRecord = { v: 1, kind: "release", at: at(), project: "nova", forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA, source: "push", artifacts: [] };
const common = (downstream: string, run: string) => ({ v: 1 as const, at: at(), upstream: "nova", downstream, run });
const trigger = (downstream: string, run: string, attempt = 0, outcome: "triggered" | "refused" | "failed" = "triggered"): HistoryRecord =>
  ({ ...common(downstream, run), kind: "trigger", attempt, outcome, ...(outcome === "triggered" ? { pipeline: { kind: "workflow_dispatch", url: `https://ci/${run}` } } : { reason: "no" }) });
const run = (downstream: string, r: string, state: "queued" | "in_progress" | "completed", conclusion?: string, failedJobs: string[] = []): HistoryRecord =>
  ({ ...common(downstream, r), kind: "run", forge: "github", repo: `o/${downstream}`, runId: "1", state, ...(conclusion ? { conclusion } : {}), url: `https://ci/${r}/run`, failedJobs, artifacts: [], source: "workflow_run" } as HistoryRecord);
const gate = (downstream: string, r: string, decision: "waiting" | "passed" | "failed"): HistoryRecord =>
  ({ ...common(downstream, r), kind: "gate", check: "build", decision });
const fold = (records: HistoryRecord[]) => foldRuns(records.map((record, i) => ({ cid: `c${i}`, record })));
const statuses = (records: HistoryRecord[]) => Object.fromEntries(fold(records).downstreams.map((d) => [d.project, d.status]));

describe("a release's downstreams, folded from its records", () => {
  it.each([
    ["dispatched", [trigger("a", "t1")], "queued"],
    ["running", [trigger("a", "t1"), run("a", "t1", "in_progress")], "in_progress"],
    ["passed", [trigger("a", "t1"), run("a", "t1", "in_progress"), run("a", "t1", "completed", "success")], "passed"],
    ["a late in_progress after the end", [trigger("a", "t1"), run("a", "t1", "completed", "failure"), run("a", "t1", "in_progress")], "failed"],
    ["waiting on its gate", [gate("a", "t1", "waiting")], "gated"],
    ["let through by its gate", [gate("a", "t1", "waiting"), gate("a", "t1", "passed"), trigger("a", "t1")], "queued"],
    ["skipped by its gate", [gate("a", "t1", "waiting"), gate("a", "t1", "failed")], "skipped"],
    ["refused by the map", [trigger("a", "t1", 0, "refused")], "refused"],
    ["failed to start", [trigger("a", "t1", 0, "failed")], "error"],
    ["timed out", [trigger("a", "t1"), run("a", "t1", "completed", "timed_out")], "timed_out"],
  ])("%s", (_name, records, status) => {
    expect(statuses([rel, ...records])).toEqual({ a: status });
  });

  it("shows the latest attempt of a re-run downstream, and keeps every attempt", () => {
    const view = fold([rel, trigger("a", "t1"), run("a", "t1", "completed", "failure", ["unit"]), trigger("a", "t2", 1), run("a", "t2", "completed", "success"), trigger("b", "t3")]);
    const a = view.downstreams.find((d) => d.project === "a")!;

    expect(view.releases.map((r) => r.cid)).toEqual(["c0"]);
    expect(a).toMatchObject({ run: "t2", attempt: 1, status: "passed", url: "https://ci/t2/run", failedJobs: [], cid: "c4", records: ["c3", "c4"] });
    expect(a.attempts.map((x) => [x.run, x.status, x.failedJobs])).toEqual([["t1", "failed", ["unit"]], ["t2", "passed", []]]);
    expect(view.downstreams.map((d) => d.project)).toEqual(["a", "b"]);
  });
});
