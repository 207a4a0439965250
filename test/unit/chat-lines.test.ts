import { describe, expect, it } from "@jest/globals";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DownstreamStatus, DownstreamView } from "../../src/history/release-view.js";
import { allEnded, chatLines, summaryLine, type ReleaseState } from "../../src/sinks/chat/chat-lines.js";

/** What a chat is told of a release: the pure part, from the release's downstreams as folded from the history. */
const AT = "2026-12-07T06:00:00Z";

function downstream(project: string, status: DownstreamStatus, o: { cid?: string; failedJobs?: string[]; attempts?: number } = {}): DownstreamView {
  const run = {
    run: `run-${project}`, attempt: (o.attempts ?? 1) - 1, status, conclusion: undefined, url: undefined, failedJobs: o.failedJobs ?? [], artifacts: [],
    cid: o.cid ?? `cid-${project}`, records: [], chain: undefined, gate: undefined, updatedAt: AT,
  };
  return { project, ...run, attempts: Array.from({ length: o.attempts ?? 1 }, () => run) };
}

/** `link: ""`: a relay without OPENCI_PUBLIC_URL, whose lines link nowhere. */
const release = (downstreams: DownstreamView[], link = "https://relay.example/releases/containerd/v2.1.0"): ReleaseState =>
  ({ releaseCid: "bafy-release", project: "containerd", tag: "v2.1.0", downstreams, link: link || undefined });

const runRecord = (downstream: string, conclusion: "success" | "failure" | "timed_out"): HistoryRecord => ({
  v: 1, at: AT, kind: "run", upstream: "containerd", downstream, run: `run-${downstream}`, forge: "github", repo: `o/${downstream}`,
  state: "completed", conclusion, failedJobs: [], artifacts: [], source: "workflow_run",
});

describe("chat lines", () => {
  it("summarises a release in one line once every downstream has ended, naming what did not pass with its failed jobs", () => {
    const ds = [downstream("cri-o", "passed"), downstream("kata-containers", "failed", { failedJobs: ["unit-tests"] }), downstream("nerdctl", "passed"), downstream("k3s", "passed")];

    const lines = chatLines("cid-kata-containers", runRecord("kata-containers", "failure"), release(ds), { failures: false, summarySaid: false });

    expect(lines.map((l) => [l.text, l.key, l.summary])).toEqual([[
      "containerd v2.1.0: 3 of 4 downstreams passed · kata-containers failed (unit-tests) https://relay.example/releases/containerd/v2.1.0",
      "summary|bafy-release", true,
    ]]);
    expect(lines[0]!.html).toBe('<b>containerd v2.1.0</b>: 3 of 4 downstreams passed · kata-containers failed (unit-tests) <a href="https://relay.example/releases/containerd/v2.1.0">https://relay.example/releases/containerd/v2.1.0</a>');
  });

  it("says nothing while a downstream is still waiting or running", () => {
    const ds = [downstream("cri-o", "passed"), downstream("kata-containers", "in_progress"), downstream("k3s", "gated")];

    expect(allEnded(ds)).toBe(false);
    expect(chatLines("cid-cri-o", runRecord("cri-o", "success"), release(ds), { failures: false, summarySaid: false })).toEqual([]);
    expect(allEnded([])).toBe(false);
  });

  it("with failures, says each failure as it happens, and the summary still once at the end", () => {
    const running = [downstream("kata-containers", "failed", { failedJobs: ["unit-tests", "e2e"] }), downstream("cri-o", "in_progress")];
    const early = chatLines("cid-kata-containers", runRecord("kata-containers", "failure"), release(running, ""), { failures: true, summarySaid: false });

    expect(early.map((l) => [l.text, l.key])).toEqual([["containerd v2.1.0: kata-containers failed (unit-tests, e2e)", "failure|cid-kata-containers"]]);

    const ended = [downstream("kata-containers", "failed"), downstream("cri-o", "timed_out")];
    const last = chatLines("cid-cri-o", runRecord("cri-o", "timed_out"), release(ended, ""), { failures: true, summarySaid: false });
    expect(last.map((l) => l.text)).toEqual([
      "containerd v2.1.0: cri-o timed out",
      "containerd v2.1.0: 0 of 2 downstreams passed · kata-containers failed · cri-o timed out",
    ]);
    // A failure whose record is handled after the summary was said (another downstream's record ended the release first): the summary named it.
    expect(chatLines("cid-cri-o", runRecord("cri-o", "timed_out"), release(ended, ""), { failures: true, summarySaid: true })).toEqual([]);
  });

  it("after the summary, a re-run's new result is a follow-up line of its own (keyed by its record)", () => {
    const ds = [downstream("kata-containers", "passed", { attempts: 2, cid: "cid-rerun" }), downstream("cri-o", "passed")];

    const lines = chatLines("cid-rerun", runRecord("kata-containers", "success"), release(ds, ""), { failures: true, summarySaid: true });

    expect(lines.map((l) => [l.text, l.key, l.summary])).toEqual([["containerd v2.1.0: re-run of kata-containers passed", "result|cid-rerun", false]]);
  });

  it("a record that is no longer its run's latest, a release record and test output say nothing", () => {
    const ds = [downstream("kata-containers", "failed", { cid: "cid-newer" })];

    expect(chatLines("cid-older", runRecord("kata-containers", "failure"), release(ds), { failures: true, summarySaid: false })).toEqual([]);
    expect(chatLines("cid-r", { v: 1, at: AT, kind: "release", project: "containerd", forge: "github", repo: "containerd/containerd", tag: "v2.1.0", sha: "a".repeat(40), source: "create", artifacts: [] }, release(ds), { failures: true, summarySaid: false })).toEqual([]);
  });

  it("neutralises what downstreams and upstreams named: no mention, no markup, no second line, no HTML", () => {
    const ds = [downstream("kata", "failed", { failedJobs: ["@channel <b>pwned</b>\nPRIVMSG #x :hi"] })];
    const state: ReleaseState = { ...release(ds, ""), tag: "v1<script>" };

    const [line] = chatLines("cid-kata", runRecord("kata", "failure"), state, { failures: false, summarySaid: false });

    expect(line!.text).not.toMatch(/[\r\n<>]|@channel/);
    expect(line!.text).toContain("kata failed (@\u2060channel ＜b＞pwned＜/b＞ PRIVMSG #x :hi)");
    expect(line!.html).not.toMatch(/<(?!\/?b>)/);
  });

  it("counts one downstream in the singular, all passed without a list, and names at most five that did not pass", () => {
    expect(summaryLine(release([downstream("a", "passed")], "")).text).toBe("containerd v2.1.0: its downstream passed");
    expect(summaryLine(release([downstream("a", "passed"), downstream("b", "neutral")], "")).text).toBe("containerd v2.1.0: all 2 downstreams passed");
    const many = Array.from({ length: 7 }, (_, i) => downstream(`d${i}`, "skipped"));
    expect(summaryLine(release(many, "")).text).toBe(
      "containerd v2.1.0: 0 of 7 downstreams passed · d0 was skipped · d1 was skipped · d2 was skipped · d3 was skipped · d4 was skipped · and 2 more",
    );
  });
});
