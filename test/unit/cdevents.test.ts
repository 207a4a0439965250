import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { block } from "../../src/history/cid.js";
import { CDEVENT_TYPES, toCDEvent } from "../../src/history/cdevent.js";
import { binaryMessage, structuredJson } from "../../src/history/cloudevent.js";
import type { HistoryRecord } from "../../src/history/record.js";
import { cdeventProblems } from "../helpers/cdevents.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const AT = "2026-12-01T10:00:00.000Z";
const release = (over: Partial<HistoryRecord> = {}): HistoryRecord => ({
  v: 1, kind: "release", at: AT, project: "nova", forge: "github", repo: "openstack/nova", tag: "29.0.1", sha: SHA, source: "create",
  artifacts: ["pkg:pypi/nova@29.0.1"], ...over,
} as HistoryRecord);

describe("records as CDEvents", () => {
  const releaseCid = (async () => (await block(release())).cid)();
  const cases: [string, (r: Awaited<typeof releaseCid>) => HistoryRecord, string][] = [
    ["a release", () => release(), CDEVENT_TYPES.artifactPublished],
    ["a release without artifacts", () => release({ artifacts: [], tag: "v1.0/rc 1" } as Partial<HistoryRecord>), CDEVENT_TYPES.artifactPublished],
    ["a tested pull request", () => release({ artifacts: [], tag: "pull/7", source: "pull_request" } as Partial<HistoryRecord>), CDEVENT_TYPES.changeTested],
    ["a trigger", (r) => ({ v: 1, kind: "trigger", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", attempt: 0, outcome: "triggered", pipeline: { kind: "workflow_dispatch", id: "7", url: "https://github.com/openstack/kolla/actions/runs/7" } }), CDEVENT_TYPES.pipelineRunQueued],
    ["a refused trigger", (r) => ({ v: 1, kind: "trigger", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", attempt: 0, outcome: "refused", reason: "no edge" }), CDEVENT_TYPES.pipelineRunFinished],
    ["a running run", (r) => ({ v: 1, kind: "run", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", forge: "github", repo: "openstack/kolla", runId: "7", state: "in_progress", url: "https://github.com/openstack/kolla/actions/runs/7", failedJobs: [], artifacts: [], source: "workflow_run" }), CDEVENT_TYPES.pipelineRunStarted],
    ["a failed run", (r) => ({ v: 1, kind: "run", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", forge: "gitlab", repo: "g/kolla", runId: "7", state: "completed", conclusion: "failure", url: "https://gitlab.com/g/kolla/-/pipelines/7", failedJobs: ["unit"], artifacts: [{ name: "unit/artifacts.zip", url: "https://gitlab.com/g/kolla/-/jobs/1/artifacts/download", size: 10 }], source: "pipeline_hook" }), CDEVENT_TYPES.pipelineRunFinished],
    ["a timed-out run without a link", (r) => ({ v: 1, kind: "run", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", forge: "github", repo: "openstack/kolla", state: "completed", conclusion: "timed_out", failedJobs: [], artifacts: [], source: "timeout" }), CDEVENT_TYPES.pipelineRunFinished],
    ["a gate", (r) => ({ v: 1, kind: "gate", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "trigger-1", check: "build", decision: "failed", conclusion: "failure" }), CDEVENT_TYPES.gateDecided],
    ["a failure's artifact", (r) => ({ v: 1, kind: "test-output", at: AT, release: r, result: r, upstream: "nova", downstream: "kolla", run: "trigger-1", name: "junit-report", url: "https://github.com/openstack/kolla/actions/runs/7/artifacts/70", format: "application/zip" }), CDEVENT_TYPES.testOutputPublished],
  ];

  it.each(cases)("%s validates against the CDEvents v0.5.1 schema of its type", async (_name, make, type) => {
    const r = await releaseCid;
    const record = make(r);
    const { cid } = await block(record);

    const event = toCDEvent(cid.toString(), record, "https://openci.example.org");

    expect(event.context.type).toBe(type);
    expect(event.context.id).toBe(cid.toString());
    expect(event.context.chainId).toBe(record.kind === "release" ? cid.toString() : r.toString());
    expect(cdeventProblems(event)).toEqual([]);
  });

  it("maps each downstream conclusion to a pipeline run outcome the schema allows", async () => {
    const r = await releaseCid;
    const outcomes = ["success", "failure", "cancelled", "timed_out", "neutral", "skipped", "action_required"].map((conclusion) => {
      const record = { v: 1, kind: "run", at: AT, release: r, upstream: "nova", downstream: "kolla", run: "t", forge: "github", repo: "o/k", state: "completed", conclusion, failedJobs: [], artifacts: [], source: "workflow_run" } as HistoryRecord;
      const event = toCDEvent("bagu", record, "/openci-relay");
      expect(cdeventProblems(event)).toEqual([]);
      return (event.subject.content as { outcome: string }).outcome;
    });

    expect(outcomes).toEqual(["success", "failure", "cancel", "error", "success", "cancel", "error"]);
  });

  it("links a record to the records it follows, and names the release as a package URL", async () => {
    const r = await releaseCid;
    const run = { v: 1, kind: "run", at: AT, release: r, trigger: r, upstream: "nova", downstream: "kolla", run: "t", forge: "github", repo: "o/k", state: "queued", failedJobs: [], artifacts: [], source: "workflow_run" } as HistoryRecord;

    const event = toCDEvent("bagu", run, "/openci-relay");

    expect(event.context.links).toEqual([
      { linkType: "PATH", from: { contextId: r.toString() } },
      { linkType: "RELATION", linkKind: "TRIGGER", target: { contextId: r.toString() } },
      { linkType: "RELATION", linkKind: "RELEASE", target: { contextId: r.toString() } },
    ]);
    expect(toCDEvent("x", release(), "/").subject.id).toBe("pkg:pypi/nova@29.0.1");
    expect(toCDEvent("x", release({ artifacts: [], repo: "g/sub/tool", forge: "gitlab", tag: "v1/rc" } as Partial<HistoryRecord>), "/").subject.id).toBe("pkg:gitlab/g/sub/tool@v1%2Frc");
  });

  it("travels in a CloudEvents envelope as CDEvents' binding says", async () => {
    const record = release();
    const { cid } = await block(record);
    const event = toCDEvent(cid.toString(), record, "https://openci.example.org");

    const { headers, body } = binaryMessage(event);
    const structured = JSON.parse(structuredJson(event));

    expect(headers).toMatchObject({
      "ce-specversion": "1.0", "ce-id": cid.toString(), "ce-source": "https://openci.example.org", "ce-type": CDEVENT_TYPES.artifactPublished,
      "ce-subject": "pkg:pypi/nova@29.0.1", "ce-time": AT,
    });
    expect(headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(body)).toEqual(event);
    expect(structured).toMatchObject({ specversion: "1.0", id: cid.toString(), type: CDEVENT_TYPES.artifactPublished, data: event });
  });

  it("accepts the spec's own example events (the validator itself works)", () => {
    const example = JSON.parse(readFileSync(new URL("../schemas/cdevents/examples/pipelinerun_finished.json", import.meta.url), "utf8"));

    expect(cdeventProblems(example)).toEqual([]);
    expect(cdeventProblems({ ...example, subject: { ...example.subject, content: { outcome: "exploded" } } })).not.toEqual([]);
  });
});
