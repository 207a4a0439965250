/**
 * The upstream check texts, word for word: what every forge page shows for each state of a
 * downstream. Written to kill mutants of src/report/check-text.ts (and the report texts beside it)
 * that survived `npm run test:mutation -- report-text` (TESTING.md): the end-to-end tests check
 * that a check exists and its conclusion, rarely its words.
 */
import { describe, expect, it } from "@jest/globals";
import type { Project } from "../../src/map/graph.js";
import type { UpstreamRef } from "../../src/queue/job-data.js";
import {
  checkName, dispatchedReport, gateFailedReport, gateWaitingReport, queuedReport, refusedReport, runReport, timedOutReport, triggerFailedReport,
  type RunOutcome,
} from "../../src/report/check-text.js";
import { commentMarker, failureComment } from "../../src/report/comment-text.js";
import type { StatusReport } from "../../src/forge/roles.js";
import { codeBlock, markdownLink, neutralise, neutraliseList, neutraliseProse, safeUrl } from "../../src/report/neutralise.js";
import { rollupReport } from "../../src/report/rollup.js";

const up: UpstreamRef = { projectId: "acme/lib", forge: "github", repo: "acme/lib", tag: "v1.2.0", sha: "0123456789abcdef0123456789abcdef01234567" };
const github = (trigger: Project["trigger"]): Project => ({ id: "acme/app", location: { forge: "github", repo: "acme/app-repo" }, trigger, report: undefined });
const gitlab: Project = { id: "gl/app", location: { forge: "gitlab", project: "grp/app", host: undefined, tokenEnv: undefined }, trigger: { ref: "stable" }, report: undefined };
const INTRO = "Tag `v1.2.0` of **acme/lib** (commit `0123456`) starts";
const PIPELINE = `${INTRO} its pipeline on \`the default branch\` in **acme/app-repo**.`;
const RUN_URL = "https://github.com/acme/app-repo/actions/runs/9";

describe("check texts", () => {
  it("names the check after the downstream", () => {
    expect(checkName("acme/app")).toBe("openci: acme/app");
  });

  it("queued: says how the downstream is started, for each kind of trigger", () => {
    expect(queuedReport(up, github({ event_type: "upstream-release" }), "run-1")).toEqual({
      name: "openci: acme/app", status: "queued", conclusion: undefined, title: "Queued: acme/app",
      summary: `${INTRO} a \`repository_dispatch\` (\`upstream-release\`) in **acme/app-repo**.\n\nThe trigger is queued.`,
      detailsUrl: undefined, externalId: "run-1",
    });
    expect(queuedReport(up, github({ workflow: "ci.yml" }), "r").summary).toBe(`${INTRO} workflow \`ci.yml\` on \`main\` in **acme/app-repo**.\n\nThe trigger is queued.`);
    expect(queuedReport(up, github({ workflow: "ci.yml", ref: "dev" }), "r").summary).toBe(`${INTRO} workflow \`ci.yml\` on \`dev\` in **acme/app-repo**.\n\nThe trigger is queued.`);
    expect(queuedReport(up, github(undefined), "r").summary).toBe(`${PIPELINE}\n\nThe trigger is queued.`);
    expect(queuedReport(up, gitlab, "r").summary).toBe(`${INTRO} its pipeline on \`stable\` in **grp/app**.\n\nThe trigger is queued.`);
  });

  it("queued: map settings are cut at 100 characters, ids at 200", () => {
    const long = "w".repeat(150);
    const summary = queuedReport(up, { ...github({ workflow: long }), id: "i".repeat(250) }, "r");
    expect(summary.summary).toContain(`workflow \`${"w".repeat(99)}…\` on`);
    expect(summary.title).toBe(`Queued: ${"i".repeat(199)}…`);
  });

  it("dispatched: links the run, or the runs when the forge gave no id", () => {
    expect(dispatchedReport(up, github({ workflow: "ci.yml" }), "run-1", { kind: "workflow_dispatch", runId: "77", webUrl: "https://github.com/acme/app-repo/actions/runs/77" })).toEqual({
      name: "openci: acme/app", status: "in_progress", conclusion: undefined, title: "Triggered: acme/app",
      summary: `${INTRO} workflow \`ci.yml\` on \`main\` in **acme/app-repo**.\n\nTriggered through workflow_dispatch; see [run 77](https://github.com/acme/app-repo/actions/runs/77).`,
      detailsUrl: "https://github.com/acme/app-repo/actions/runs/77", externalId: "run-1",
    });
    const noId = dispatchedReport(up, github(undefined), "run-1", { kind: "repository_dispatch", runId: undefined, webUrl: "https://github.com/acme/app-repo/actions" });
    expect(noId.summary).toBe(`${PIPELINE}\n\nTriggered through repository_dispatch; see [its runs](https://github.com/acme/app-repo/actions).`);
    expect(dispatchedReport(up, github(undefined), "r", { kind: "repository_dispatch", runId: undefined, webUrl: "javascript:alert(1)" }).detailsUrl).toBeUndefined();
  });

  it("trigger failed: the reason, the hint when there is one, and a lead without the project when it left the map", () => {
    expect(triggerFailedReport(up, github({ workflow: "ci.yml" }), "acme/app", "run-1", "404 Not Found", "Install the app")).toEqual({
      name: "openci: acme/app", status: "completed", conclusion: "failure", title: "Could not trigger acme/app",
      summary: `${INTRO} workflow \`ci.yml\` on \`main\` in **acme/app-repo**.\n\nThe relay could not start the downstream pipeline: 404 Not Found\n\n**How to fix:** Install the app`,
      detailsUrl: undefined, externalId: "run-1",
    });
    expect(triggerFailedReport(up, undefined, "acme/gone", "run-1", "gone", undefined).summary).toBe("Tag `v1.2.0` of **acme/lib** (commit `0123456`).\n\nThe relay could not start the downstream pipeline: gone");
  });

  const run = (o: Partial<RunOutcome>): RunOutcome => ({ state: "completed", webUrl: RUN_URL, runId: "9", failedJobs: [], ...o });

  it("running: the run's state in words", () => {
    expect(runReport(up, github(undefined), "run-1", run({ state: "in_progress" }))).toEqual({
      name: "openci: acme/app", status: "in_progress", conclusion: undefined, title: "Running: acme/app",
      summary: `${PIPELINE}\n\nThe downstream [run 9](${RUN_URL}) is in progress.`, detailsUrl: RUN_URL, externalId: "run-1",
    });
    expect(runReport(up, github(undefined), "run-1", run({ state: "queued" })).summary).toBe(`${PIPELINE}\n\nThe downstream [run 9](${RUN_URL}) is queued.`);
  });

  it("completed: a table row with the result and duration, and the failing jobs", () => {
    expect(runReport(up, github(undefined), "run-1", run({ conclusion: "failure", failedJobs: ["unit", "lint"], startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T01:02:03Z" }))).toEqual({
      name: "openci: acme/app", status: "completed", conclusion: "failure", title: "Failed: acme/app (2 failing jobs)",
      summary: `${PIPELINE}\n\n| Downstream | Run | Result | Duration |\n|---|---|---|---|\n| acme/app | [run 9](${RUN_URL}) | failed | 1 h 2 min |\n\n**Failing jobs:**\n- unit\n- lint`,
      detailsUrl: RUN_URL, externalId: "run-1", failedJobs: ["unit", "lint"],
    });
    const row = (o: Partial<RunOutcome>) => runReport(up, github(undefined), "r", run(o)).summary.split("\n")[4];
    expect(row({ conclusion: "success", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:01:05Z" })).toBe(`| acme/app | [run 9](${RUN_URL}) | passed | 1 min 5 s |`);
    expect(row({ conclusion: "success", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:01:00Z" })).toContain("| 1 min 0 s |");
    expect(row({ conclusion: "success", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T01:00:00Z" })).toContain("| 1 h 0 min |");
    expect(row({ conclusion: "cancelled", startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:59Z" })).toContain("| cancelled | 59 s |");
    expect(row({ conclusion: undefined, startedAt: "2026-01-01T00:00:10Z", updatedAt: "2026-01-01T00:00:00Z" })).toContain("| neutral | 0 s |");
    expect(row({ conclusion: "skipped", startedAt: "2026-01-01T00:00:00Z" })).toContain("| skipped | – |");
    expect(row({ conclusion: "action_required", updatedAt: "2026-01-01T00:00:00Z" })).toContain("| needs action | – |");
    expect(runReport(up, github(undefined), "r", run({ conclusion: "success" })).summary).toBe(
      `${PIPELINE}\n\n| Downstream | Run | Result | Duration |\n|---|---|---|---|\n| acme/app | [run 9](${RUN_URL}) | passed | – |`);
    const one = runReport(up, github(undefined), "r", run({ conclusion: "timed_out", failedJobs: ["one"] }));
    expect(one.title).toBe("Timed out: acme/app (1 failing job)");
    expect(one.summary.endsWith("\n\n**Failing jobs:**\n- one")).toBe(true);
    expect(runReport(up, github(undefined), "r", run({ conclusion: undefined })).title).toBe("Neutral: acme/app");
    expect(runReport(up, github(undefined), "r", run({ conclusion: "skipped" })).title).toBe("Skipped: acme/app");
    expect(runReport(up, github(undefined), "r", run({ conclusion: "cancelled" })).title).toBe("Cancelled: acme/app");
    expect(runReport(up, github(undefined), "r", run({ conclusion: "action_required" })).title).toBe("Needs action: acme/app");
    expect(runReport(up, github(undefined), "r", run({ conclusion: "success" })).title).toBe("Passed: acme/app");
  });

  it("timed out: the edge's timeout, with or without the project", () => {
    expect(timedOutReport(up, github(undefined), "acme/app", "run-1", "2h", "https://github.com/x")).toEqual({
      name: "openci: acme/app", status: "completed", conclusion: "timed_out", title: "Timed out: acme/app",
      summary: `${PIPELINE}\n\nNo result arrived from the downstream within 2h (the edge's \`timeout\`).`,
      detailsUrl: "https://github.com/x", externalId: "run-1",
    });
    expect(timedOutReport(up, undefined, "acme/app", "run-1", "2h", undefined).summary).toBe("Tag `v1.2.0` of **acme/lib**.\n\nNo result arrived from the downstream within 2h (the edge's `timeout`).");
  });

  it("gates: waiting for the upstream check, and skipped when it did not succeed", () => {
    expect(gateWaitingReport(up, github(undefined), "run-1", "build")).toEqual({
      name: "openci: acme/app", status: "queued", conclusion: undefined, title: "Waiting for build: acme/app",
      summary: `${PIPELINE}\n\nIt starts once the upstream check \`build\` succeeds on this commit (\`after_check\`).`,
      detailsUrl: undefined, externalId: "run-1",
    });
    expect(gateFailedReport(up, github(undefined), "acme/app", "run-1", "build", "timed_out")).toEqual({
      name: "openci: acme/app", status: "completed", conclusion: "skipped", title: "Skipped: acme/app (build timed out)",
      summary: `${PIPELINE}\n\nNot triggered: the upstream check \`build\` ended **timed_out** on this commit, and this downstream waits for it to succeed (\`after_check\`).`,
      detailsUrl: undefined, externalId: "run-1",
    });
    expect(gateFailedReport(up, undefined, "acme/app", "r", "build", "failure").summary).toBe("Tag `v1.2.0` of **acme/lib**.\n\nNot triggered: the upstream check `build` ended **failure** on this commit, and this downstream waits for it to succeed (`after_check`).");
  });

  it("refused by the map", () => {
    expect(refusedReport(up, "acme/app", "run-1", "no edge")).toEqual({
      name: "openci: acme/app", status: "completed", conclusion: "skipped", title: "Not triggered: the dependency map does not allow it",
      summary: "Tag `v1.2.0` of **acme/lib** (commit `0123456`).\n\nno edge", detailsUrl: undefined, externalId: "run-1",
    });
  });
});

const member = (name: string, status: StatusReport["status"], conclusion?: StatusReport["conclusion"], detailsUrl?: string, failedJobs?: string[]): StatusReport =>
  ({ name: `openci: ${name}`, status, conclusion, title: "", summary: "", detailsUrl, externalId: name, ...(failedJobs ? { failedJobs } : {}) });
const one = member("a/one", "completed", "success", "https://github.com/a/one/actions/runs/1");
const two = member("b/two", "completed", "failure", "https://github.com/b/two/actions/runs/2", ["unit", "lint"]);
const three = member("c/three", "in_progress");
const RERUN = { label: "Re-run failed", description: "Trigger the failed downstreams again", identifier: "rerun-failed" };

describe("the roll-up check", () => {
  it("counts passes, lists every downstream sorted, and stays in progress while one runs", () => {
    expect(rollupReport([two, one, three])).toEqual({
      name: "openci", status: "in_progress", conclusion: undefined, title: "1 of 3 downstreams passed, 1 still running",
      summary: "| Downstream | Result | Run |\n|---|---|---|\n| a/one | passed | [run](https://github.com/a/one/actions/runs/1) |\n| b/two | failed | [run](https://github.com/b/two/actions/runs/2) |\n| c/three | in progress |  |",
      detailsUrl: undefined, externalId: "openci",
    });
  });

  it("fails with a re-run button when one failed, passes without one when all passed (skipped and neutral pass)", () => {
    const failed = rollupReport([one, two]);
    expect(failed).toMatchObject({ status: "completed", conclusion: "failure", title: "1 of 2 downstreams passed" });
    expect(failed.actions).toEqual([RERUN]);
    const passed = rollupReport([one, member("d/four", "completed", "skipped"), member("e/five", "completed", "neutral"), member("f/six", "completed", undefined)]);
    expect(passed).toMatchObject({ status: "completed", conclusion: "success", title: "4 of 4 downstreams passed" });
    expect(passed.actions).toBeUndefined();
    expect(passed.summary.split("\n").slice(3)).toEqual(["| d/four | skipped |  |", "| e/five | neutral |  |", "| f/six | neutral |  |"]);
    expect(rollupReport([member("g/seven", "completed", "action_required"), member("h/eight", "completed", "cancelled")]).summary.split("\n").slice(2))
      .toEqual(["| g/seven | needs action |  |", "| h/eight | cancelled |  |"]);
    expect(rollupReport([member("q/queued", "queued")])).toMatchObject({ status: "in_progress", title: "0 of 1 downstreams passed, 1 still running" });
    expect(rollupReport([member("q/queued", "queued"), two]).actions).toBeUndefined();
  });

  it("ends neutral, never running, when no downstream is shown any more", () => {
    expect(rollupReport([])).toEqual({
      name: "openci", status: "completed", conclusion: "neutral", title: "No downstream is shown on this commit",
      summary: "The downstreams shown here earlier are no longer shown (a repository turned private, or the map changed).",
      detailsUrl: undefined, externalId: "openci",
    });
  });
});

describe("the failure comment", () => {
  const target = { sha: "0123456789abcdef0123456789abcdef01234567" } as Parameters<typeof failureComment>[0];
  const MARKER = "<!-- openci-relay:failures:0123456789abcdef0123456789abcdef01234567 -->";
  const FOOT = "\n\nThis comment is kept up to date by OpenCI Relay as results change.";
  const HEAD = "| Downstream | Result | Run | Failing jobs |\n|---|---|---|---|\n";

  it("is marked with the commit", () => {
    expect(commentMarker(target)).toBe(MARKER);
  });

  it("lists only the failing downstreams, with their failing jobs", () => {
    expect(failureComment(target, [two, one, three], false)).toBe(
      `${MARKER}\n### OpenCI: 1 of 3 downstreams of \`0123456\` failing\n\n${HEAD}| b/two | failed | [run](https://github.com/b/two/actions/runs/2) | unit, lint |${FOOT}`);
    expect(failureComment(target, [two], false)).toBe(
      `${MARKER}\n### OpenCI: 1 of 1 downstream of \`0123456\` failing\n\n${HEAD}| b/two | failed | [run](https://github.com/b/two/actions/runs/2) | unit, lint |${FOOT}`);
    expect(failureComment(target, [member("x/y", "completed", "timed_out")], false)).toBe(
      `${MARKER}\n### OpenCI: 1 of 1 downstream of \`0123456\` failing\n\n${HEAD}| x/y | timed out | – | – |${FOOT}`);
  });

  it("lists at most 10 failing jobs of a downstream, each cut at 100 characters", () => {
    const jobs = Array.from({ length: 12 }, (_, i) => `${"j".repeat(120)}${i}`);
    const text = failureComment(target, [member("m/many", "completed", "failure", undefined, jobs)], false)!;
    const cell = text.split("\n")[5]!.split(" | ")[3]!;
    expect(cell.split(", ")).toEqual([...Array.from({ length: 10 }, () => `${"j".repeat(99)}…`), "… and 2 more |"]);
  });

  it("says nothing when nothing fails and there is no comment yet", () => {
    expect(failureComment(target, [one], false)).toBeUndefined();
    expect(failureComment(target, [], false)).toBeUndefined();
    expect(failureComment(target, [one, three], false)).toBeUndefined();
  });

  it("once written, says the failures passed, or that some still run", () => {
    expect(failureComment(target, [one], true)).toBe(
      `${MARKER}\n### OpenCI: all 1 downstreams of \`0123456\` pass now\n\nThe failures reported here earlier have passed since.\n\n| Downstream | Result | Run |\n|---|---|---|\n| a/one | passed | [run](https://github.com/a/one/actions/runs/1) |`);
    expect(failureComment(target, [three, one], true)).toBe(
      `${MARKER}\n### OpenCI: no downstream of \`0123456\` is failing now (1 still running)\n\nThe failures reported here earlier have passed since.\n\n| Downstream | Result | Run |\n|---|---|---|\n| a/one | passed | [run](https://github.com/a/one/actions/runs/1) |\n| c/three | in progress | – |`);
    expect(failureComment(target, [member("s/skip", "completed", "skipped"), member("n/none", "completed", undefined)], true)!.split("\n").slice(-2))
      .toEqual(["| n/none | neutral | – |", "| s/skip | skipped | – |"]);
  });

  it("once written, says when no downstream is shown any more", () => {
    expect(failureComment(target, [], true)).toBe(
      `${MARKER}\n### OpenCI: no downstream of \`0123456\` is shown here any more\n\nThe downstreams reported here earlier are no longer shown on this commit.`);
  });
});

describe("neutraliseList", () => {
  it("shows the first items and counts the rest", () => {
    expect(neutraliseList(["a", "b", "c"], 2)).toEqual(["a", "b", "… and 1 more"]);
    expect(neutraliseList(["a", "b"], 2)).toEqual(["a", "b"]);
    expect(neutraliseList(Array.from({ length: 25 }, (_, i) => `job ${i}`))).toHaveLength(21);
    expect(neutraliseList(["x".repeat(250)])).toEqual([`${"x".repeat(199)}…`]);
  });
});

describe("neutralise, at its edges", () => {
  const WJ = "\u2060";

  it("turns every line break, the vertical tab too, into a space, and leaves letters alone", () => {
    expect(neutralise("a\vb\fc\u2028d")).toBe("a b c d");
    expect(neutralise("Version V2")).toBe("Version V2");
  });

  it("replaces a lone surrogate with U+FFFD rather than dropping it", () => {
    expect(neutralise("a\uD800b")).toBe("a\uFFFDb");
  });

  it("defuses ordered-list numbers of any length, and a number alone", () => {
    expect(neutralise("10. item")).toBe(`${WJ}10. item`);
    expect(neutralise("123456789) item")).toBe(`${WJ}123456789) item`);
    expect(neutralise("1.")).toBe(`${WJ}1.`);
    expect(neutralise("1.5 release")).toBe("1.5 release");
  });

  it("keeps text exactly as long as the cap, and cuts before the space at a cut", () => {
    expect(neutralise("abcde", 5)).toBe("abcde");
    expect(neutralise("abcdef", 5)).toBe("abcd…");
    expect(neutralise("abcd efgh", 6)).toBe("abcd…");
  });
});

describe("links and code, at their edges", () => {
  it("takes http as well as https, and refuses a password even without a user name", () => {
    expect(safeUrl("http://ci.example/runs/1")).toBe("http://ci.example/runs/1");
    expect(safeUrl("https://ci.example/runs/1")).toBe("https://ci.example/runs/1");
    expect(safeUrl("ftp://ci.example/runs/1")).toBeUndefined();
    expect(safeUrl("https://:secret@ci.example/")).toBeUndefined();
    expect(safeUrl("https://user@ci.example/")).toBeUndefined();
    expect(markdownLink("run", "http://ci.example/runs/1")).toBe("[run](http://ci.example/runs/1)");
  });

  it("keeps code lines: CR and CRLF are line breaks, tabs two spaces, lone surrogates U+FFFD", () => {
    expect(codeBlock("a\rb\r\nc")).toBe("```\na\nb\nc\n```");
    expect(codeBlock("\tx")).toBe("```\n  x\n```");
    expect(codeBlock("a\uD800")).toBe("```\na\uFFFD\n```");
    expect(codeBlock("ls", "sh")).toBe("```sh\nls\n```");
  });

  it("cuts long code at max, never inside a surrogate pair, and leaves code of exactly max alone", () => {
    expect(codeBlock("xxxxxxxxxx", "", 5)).toBe("```\nxxxx…\n```");
    expect(codeBlock("xxxxx", "", 5)).toBe("```\nxxxxx\n```");
    expect(codeBlock("ab😀cd", "", 4)).toBe("```\nab…\n```");
    expect(codeBlock("😀abc😀def", "", 6)).toBe("```\n😀abc…\n```");
  });

  it("prose keeps its code blocks up to twice its own cap, with no empty parts around them", () => {
    expect(neutraliseProse("```sh\nls\n```")).toBe("```sh\nls\n```");
    const code = "y".repeat(600);
    expect(neutraliseProse(`run this:\n\`\`\`\n${code}\n\`\`\`\nthen retry`)).toBe(`run this:\n\n\`\`\`\n${code}\n\`\`\`\n\nthen retry`);
  });
});
