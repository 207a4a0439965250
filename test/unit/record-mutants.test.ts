/**
 * The history record schemas, field by field: written to kill mutants of src/history/record.ts
 * (`npm run test:mutation -- record`, TESTING.md). The field names and values are the stable API
 * (GET /api/v1/records/{cid}), so each accepted value and each refusal is pinned here.
 */
import { describe, expect, it } from "@jest/globals";
import { cidOf, encode } from "../../src/history/cid.js";
import { HistoryRecord, projectsOf } from "../../src/history/record.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const AT = "2026-01-02T03:04:05.000Z";
const link = await cidOf(encode({ any: "record" }));

const release = { v: 1, at: AT, kind: "release", project: "up", forge: "github", repo: "o/up", tag: "v1.0.0", sha: SHA, source: "push", artifacts: [] };
const trigger = { v: 1, at: AT, kind: "trigger", upstream: "up", downstream: "down", run: "r1", attempt: 0, outcome: "triggered" };
const run = { v: 1, at: AT, kind: "run", upstream: "up", downstream: "down", run: "r1", forge: "gitlab", repo: "g/down", state: "completed", conclusion: "success", failedJobs: [], artifacts: [], source: "poll" };
const gate = { v: 1, at: AT, kind: "gate", upstream: "up", downstream: "down", run: "r1", check: "build", decision: "waiting" };
const output = { v: 1, at: AT, kind: "test-output", result: link, upstream: "up", downstream: "down", run: "r1", name: "logs.zip", url: "https://x/logs.zip", format: "application/zip" };

const ok = (r: unknown) => HistoryRecord.safeParse(r).success;
const issues = (r: unknown) => {
  const parsed = HistoryRecord.safeParse(r);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("history records", () => {
  it("accepts one record of each kind", () => {
    for (const r of [release, trigger, run, gate, output]) expect(issues(r)).toEqual([]);
  });

  it("accepts every documented value of each enumeration", () => {
    for (const forge of ["github", "gitlab"]) expect(ok({ ...release, forge })).toBe(true);
    for (const source of ["create", "push", "release", "tag_push", "pull_request", "reconcile"]) expect(ok({ ...release, source })).toBe(true);
    for (const outcome of ["triggered", "refused", "failed"]) expect(ok({ ...trigger, outcome })).toBe(true);
    for (const state of ["queued", "in_progress", "completed"]) expect(ok({ ...run, state })).toBe(true);
    for (const conclusion of ["success", "failure", "cancelled", "timed_out", "neutral", "skipped", "action_required"]) {
      expect(ok({ ...run, conclusion })).toBe(true);
      expect(ok({ ...gate, decision: "failed", conclusion })).toBe(true);
    }
    for (const decision of ["waiting", "passed", "failed"]) expect(ok({ ...gate, decision })).toBe(true);
  });

  it("refuses values outside the enumerations, and empty ones", () => {
    expect(ok({ ...release, forge: "" })).toBe(false);
    expect(ok({ ...release, forge: "bitbucket" })).toBe(false);
    expect(ok({ ...release, source: "" })).toBe(false);
    expect(ok({ ...trigger, outcome: "" })).toBe(false);
    expect(ok({ ...run, state: "" })).toBe(false);
    expect(ok({ ...run, conclusion: "" })).toBe(false);
    expect(ok({ ...gate, decision: "" })).toBe(false);
    expect(ok({ ...release, kind: "" })).toBe(false);
  });

  it("a sha is exactly 40 lowercase hex digits", () => {
    expect(ok({ ...release, sha: SHA.toUpperCase() })).toBe(false);
    expect(ok({ ...release, sha: SHA.slice(1) })).toBe(false);
    expect(ok({ ...release, sha: `${SHA}0` })).toBe(false);
    expect(ok({ ...release, sha: `x${SHA}` })).toBe(false);
    expect(ok({ ...release, sha: `${SHA.slice(0, 39)}g` })).toBe(false);
    expect(ok({ ...release, sha: "f".repeat(40) })).toBe(true);
  });

  it("v is 1 and at is an RFC 3339 time, with an offset allowed", () => {
    expect(ok({ ...release, v: 2 })).toBe(false);
    expect(ok({ ...release, at: "2026-01-02T05:04:05+02:00" })).toBe(true);
    expect(ok({ ...release, at: "2026-01-02" })).toBe(false);
    expect(ok({ ...release, at: "" })).toBe(false);
  });

  it("links are CIDs, not strings", () => {
    expect(ok({ ...trigger, release: link, after: link })).toBe(true);
    expect(issues({ ...trigger, release: link.toString() })).toEqual(["release: must be a CID link"]);
    expect(ok({ ...output, result: undefined })).toBe(false);
  });

  it("counts are whole and not negative", () => {
    expect(ok({ ...trigger, attempt: -1 })).toBe(false);
    expect(ok({ ...trigger, attempt: 1.5 })).toBe(false);
    expect(ok({ ...run, artifacts: [{ name: "a", url: "u", size: 0 }] })).toBe(true);
    expect(ok({ ...run, artifacts: [{ name: "a", url: "u", size: -1 }] })).toBe(false);
    expect(ok({ ...run, artifacts: [{ name: "a", url: "u", size: 0.5 }] })).toBe(false);
  });

  it("unknown fields are refused (strict objects), also inside a chain and a pipeline", () => {
    expect(ok({ ...release, extra: 1 })).toBe(false);
    expect(ok({ ...trigger, chain: { id: "c", path: ["a"] } })).toBe(true);
    expect(ok({ ...trigger, chain: { id: "c", path: ["a"], extra: 1 } })).toBe(false);
    expect(ok({ ...trigger, pipeline: { kind: "workflow", url: "u" } })).toBe(true);
    expect(ok({ ...trigger, pipeline: { kind: "workflow", url: "u", extra: 1 } })).toBe(false);
    expect(ok({ ...run, artifacts: [{ name: "a", url: "u", extra: 1 }] })).toBe(false);
  });
});

describe("projectsOf", () => {
  it("a release is about its project; anything else about its upstream, then its downstream", () => {
    expect(projectsOf(HistoryRecord.parse(release))).toEqual(["up"]);
    expect(projectsOf(HistoryRecord.parse(trigger))).toEqual(["up", "down"]);
    expect(projectsOf(HistoryRecord.parse({ ...gate, downstream: "up" }))).toEqual(["up"]);
  });
});
