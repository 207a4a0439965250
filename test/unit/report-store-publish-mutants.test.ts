/**
 * The upstream checks' desired states and the commit views built from them, in-process against a
 * real Redis: what `publishChecks` records, enrols and queues for the report worker, what the
 * roll-up and failure comment read back, and which downstreams a re-run asks for. Written to kill
 * the mutants of src/report/{check-store,commit-views,publish,rerun-targets}.ts in milliseconds
 * (`npm run test:mutation -- report-store`, TESTING.md) where the end-to-end tests take seconds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { Worker, type Job } from "bullmq";
import { pino } from "pino";
import type { StatusReport } from "../../src/forge/roles.js";
import { parseMap } from "../../src/map/load.js";
import type { UpstreamRef } from "../../src/queue/job-data.js";
import { checkKey } from "../../src/queue/job-ids.js";
import { KEY_PREFIX } from "../../src/queue/names.js";
import { createQueues, type Queues } from "../../src/queue/queues.js";
import { CheckStore, targetOf, type CheckTarget } from "../../src/report/check-store.js";
import { checkName } from "../../src/report/check-text.js";
import { CommitViews } from "../../src/report/commit-views.js";
import { publishCheck, publishChecks, type CheckUpdate, type PublishDeps } from "../../src/report/publish.js";
import { rerunTargets } from "../../src/report/rerun-targets.js";
import { UpstreamSurface } from "../../src/trust/upstream-surface.js";
import { ProjectVisibility } from "../../src/trust/visibility.js";
import { VisibilityStore, type Visibility } from "../../src/trust/visibility-store.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const redis = useTestRedisClient();

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OTHER_SHA = "fedcba9876543210fedcba9876543210fedcba98";
const DAYS_30 = 30 * 24 * 3600;

// upco/* share the upstream's owner (always shown); otherco/app is shown only while public; secret never.
const MAP = parseMap(`
version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - id: up
    foundation: lf
    github: upco/lib
  - id: ours
    foundation: lf
    github: upco/tests
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
  - id: theirs
    foundation: lf
    github: otherco/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
  - id: secret
    foundation: lf
    github: otherco/secret
    visibility: private
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
${["success", "neutral", "skipped", "failure", "cancelled", "timed-out", "action-required", "none", "running"].map((id) => `
  - id: ${id}
    foundation: lf
    github: upco/${id}
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]`).join("")}
`);

const upstream = (sha = SHA, o: Partial<UpstreamRef> = {}): UpstreamRef => ({ projectId: "up", forge: "github", repo: "upco/lib", installationId: 7, tag: "v1.0.0", sha, ...o });
type Trigger = CheckUpdate["trigger"];
const trigger = (downstreamId: string, o: Partial<Trigger> = {}): Trigger => ({ upstream: upstream(), downstreamId, checkName: checkName(downstreamId), attempt: 0, ...o });
const report = (status: StatusReport["status"], o: Partial<StatusReport> = {}): StatusReport => ({
  name: "openci: x", status, conclusion: status === "completed" ? "success" : undefined, title: status, summary: "", detailsUrl: undefined, externalId: "run-x", ...o,
});
const keyOf = (t: Trigger) => checkKey({ upstream: t.upstream, sha: t.upstream.sha, name: t.checkName });

/** What the forge says of each project's visibility, asked at every look-up. */
let forge: Record<string, Visibility>;
let queues: Queues;
let deps: PublishDeps;

beforeAll(() => {
  queues = createQueues(redis(), pino({ level: "silent" }));
});
afterAll(async () => {
  await queues.close();
});
beforeEach(async () => {
  await redis().flushdb();
  forge = { theirs: "public" };
  const visibility = new ProjectVisibility({ map: () => MAP, store: new VisibilityStore(redis()), lookup: async (p) => forge[p.id] ?? "private", maxAgeMs: -1 });
  const checks = new CheckStore(redis());
  deps = { checks, queues, views: new CommitViews(redis(), checks), surface: new UpstreamSurface(() => MAP, visibility) };
});

/** The report queue's jobs, as `name id → checkKey`, sorted. */
async function pushes(): Promise<string[]> {
  const jobs = await queues.report.getJobs(["waiting", "delayed", "prioritized", "active"]);
  return jobs.map((j) => `${j.name} ${j.id} → ${j.data.checkKey}`).sort();
}

const rawCheck = (key: string) => redis().hgetall(`${KEY_PREFIX}:check:${key}`);

describe("CheckStore: one downstream's check, as the report worker pushes it", () => {
  const target: CheckTarget = { forge: "github", repo: "upco/lib", sha: SHA, installationId: 7, ref: "v1.0.0" };

  it("has nothing for a check never advanced, nor for one only marked pushed", async () => {
    const store = new CheckStore(redis());
    await store.markPushed("pushed-only", 3, "55");

    expect(await store.get("never")).toBeUndefined();
    expect(await store.get("pushed-only")).toBeUndefined();
  });

  it("holds the latest state with its version, nothing pushed yet and no remote id", async () => {
    const store = new CheckStore(redis());
    await store.advance("k", target, report("queued"));

    expect(await store.get("k")).toEqual({ target, report: report("queued"), about: undefined, version: 1, pushedVersion: 0, remoteId: undefined });
  });

  it("holds checks on GitLab commits too, with their instance's host", async () => {
    const store = new CheckStore(redis());
    const gitlab: CheckTarget = { forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib", sha: SHA, ref: "v1.0.0" };
    await store.advance("gl", gitlab, report("queued"));

    expect((await store.get("gl"))?.target).toStrictEqual(gitlab);
  });

  it("keeps the forge's check run id across the states of one generation; a re-run forgets it and starts over", async () => {
    const store = new CheckStore(redis());
    await store.advance("k", target, report("queued"));
    await store.markPushed("k", 1, "check-run-1");
    const running = await store.advance("k", target, report("in_progress"));
    const kept = await store.get("k");
    await store.advance("k", target, report("completed"));

    const rerun = await store.advance("k", target, report("queued"), 1);
    const after = await store.get("k");
    const lateOldGeneration = await store.advance("k", target, report("completed", { title: "late" }), 0);

    expect(running).toBe(2);
    expect(kept?.remoteId).toBe("check-run-1");
    expect(rerun).toBe(4);
    expect(after).toMatchObject({ report: { status: "queued" }, version: 4, pushedVersion: 1, remoteId: undefined });
    expect(lateOldGeneration).toBe(0);
    expect((await store.get("k"))?.report.status).toBe("queued");
  });

  it("a later generation's queued beats an earlier one's every state, and goes forward within itself", async () => {
    const store = new CheckStore(redis());
    await store.advance("k", target, report("in_progress"), 2);

    expect(await store.advance("k", target, report("completed"), 1)).toBe(0);
    expect(await store.advance("k", target, report("queued"), 2)).toBe(0);
    expect(await store.advance("k", target, report("completed"), 2)).toBe(2);
    expect(await store.advance("k", target, report("queued"), 3)).toBe(3);
  });

  it("stores which trigger a check is about (tagging upstream, downstream, chain), nothing else of the trigger", async () => {
    const store = new CheckStore(redis());
    const chained = { ...trigger("theirs"), deliveryId: "d", chain: { id: "c1", path: ["up", "ours", "theirs"], from: "run-0" } };
    await store.advance("chained", target, report("queued"), 0, chained);
    await store.advance("plain", target, report("queued"), 0, trigger("ours"));

    expect(JSON.parse((await rawCheck("chained")).about!)).toStrictEqual({ upstream: { projectId: "up" }, downstreamId: "theirs", chain: { id: "c1", path: ["up", "ours", "theirs"] } });
    expect(JSON.parse((await rawCheck("plain")).about!)).toStrictEqual({ upstream: { projectId: "up" }, downstreamId: "ours" });
    expect((await store.get("plain"))?.about).toStrictEqual({ upstream: { projectId: "up" }, downstreamId: "ours" });
  });

  it("keeps what it was about when a later state comes without it", async () => {
    const store = new CheckStore(redis());
    await store.advance("k", target, report("queued"), 0, trigger("ours"));
    await store.advance("k", target, report("completed"));

    expect((await store.get("k"))?.about).toStrictEqual({ upstream: { projectId: "up" }, downstreamId: "ours" });
  });

  it("is kept 30 days from its last change", async () => {
    const store = new CheckStore(redis());
    await store.advance("k", target, report("queued"));

    const ttl = await redis().ttl(`${KEY_PREFIX}:check:k`);
    expect(ttl).toBeGreaterThan(DAYS_30 - 10);
    expect(ttl).toBeLessThanOrEqual(DAYS_30);
  });

  it("targets a trigger's upstream commit: GitLab's host when named, the tag as the ref", () => {
    expect(targetOf({ ...upstream(), forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib" }))
      .toStrictEqual({ forge: "gitlab", host: "gitlab.example.org", repo: "grp/lib", sha: SHA, installationId: 7, ref: "v1.0.0" });
    expect(targetOf(upstream())).toEqual({ forge: "github", repo: "upco/lib", sha: SHA, installationId: 7, ref: "v1.0.0" });
    expect(Object.keys(targetOf(upstream()))).not.toContain("host");
  });
});

describe("publishChecks: what a fan-out records and queues", () => {
  it("records every check, enrols the shown ones in their commit's views, queues one push per check and the views once per commit", async () => {
    const a = [trigger("ours"), trigger("theirs")];
    const b = trigger("ours", { upstream: upstream(OTHER_SHA) });

    const versions = await publishChecks(deps, [...a, b].map((t) => ({ trigger: t, report: report("queued", { externalId: t.downstreamId }) })));

    const commitA = CommitViews.keyFor(targetOf(upstream()));
    const commitB = CommitViews.keyFor(targetOf(upstream(OTHER_SHA)));
    expect(versions).toEqual([1, 1, 1]);
    expect(await pushes()).toEqual([
      `comment report-comment-${commitA}-1 → ${commitA}`, `comment report-comment-${commitB}-1 → ${commitB}`,
      `rollup report-rollup-${commitA}-1 → ${commitA}`, `rollup report-rollup-${commitB}-1 → ${commitB}`,
      ...[...a, b].map((t) => `sync report-${keyOf(t)}-1 → ${keyOf(t)}`),
    ].sort());
    const viewA = await deps.views.load("rollup", commitA);
    expect(viewA).toMatchObject({ target: targetOf(upstream()), version: 1, pushedVersion: 0, remote: undefined });
    expect(viewA?.members.map((m) => m.report.externalId).sort()).toEqual(["ours", "theirs"]);
    expect((await redis().smembers(`${KEY_PREFIX}:commit:${commitA}:members`)).sort()).toEqual(a.map(keyOf).sort());
    expect((await deps.views.load("comment", commitB))?.members.map((m) => m.report.externalId)).toEqual(["ours"]);
    expect(await deps.checks.get(keyOf(b))).toMatchObject({ target: targetOf(upstream(OTHER_SHA)), report: { status: "queued", externalId: "ours" }, version: 1 });
  });

  it("a repeat changes nothing: no push, the views untouched", async () => {
    const updates = [{ trigger: trigger("ours"), report: report("queued") }, { trigger: trigger("theirs"), report: report("queued") }];
    await publishChecks(deps, updates);
    const before = await pushes();

    const again = await publishChecks(deps, updates);
    const single = await publishCheck(deps, trigger("ours"), report("queued"));

    expect(again).toEqual([0, 0]);
    expect(single).toBe(false);
    expect(await pushes()).toEqual(before);
    expect((await deps.views.load("rollup", CommitViews.keyFor(targetOf(upstream()))))?.version).toBe(1);
  });

  it("a later state is pushed with its own version; an earlier one is refused", async () => {
    const t = trigger("ours");
    expect(await publishCheck(deps, t, report("queued"))).toBe(true);
    expect(await publishCheck(deps, t, report("in_progress"))).toBe(true);
    expect(await publishCheck(deps, t, report("queued", { title: "late" }))).toBe(false);

    expect((await pushes()).filter((p) => p.startsWith("sync"))).toEqual([`sync report-${keyOf(t)}-1 → ${keyOf(t)}`, `sync report-${keyOf(t)}-2 → ${keyOf(t)}`]);
    expect((await deps.checks.get(keyOf(t)))?.report.status).toBe("in_progress");
  });

  it("one changed check among repeats touches its commit's views once", async () => {
    await publishChecks(deps, [{ trigger: trigger("ours"), report: report("queued") }, { trigger: trigger("theirs"), report: report("queued") }]);

    const versions = await publishChecks(deps, [{ trigger: trigger("ours"), report: report("queued") }, { trigger: trigger("theirs"), report: report("in_progress") }]);

    expect(versions).toEqual([0, 2]);
    const view = await deps.views.load("comment", CommitViews.keyFor(targetOf(upstream())));
    expect(view?.version).toBe(2);
  });

  it("a re-run (the trigger's attempt) starts a finished check over", async () => {
    const t = trigger("ours");
    await publishCheck(deps, t, report("completed", { conclusion: "failure" }));

    expect(await publishCheck(deps, { ...t, attempt: 1 }, report("queued"))).toBe(true);
    expect((await deps.checks.get(keyOf(t)))?.report.status).toBe("queued");
  });

  it("records what the check is about, so that who may see it can be decided again at every push", async () => {
    const t = trigger("theirs", { chain: { id: "c", path: ["up", "ours", "theirs"] } });
    await publishCheck(deps, t, report("queued"));

    expect((await deps.checks.get(keyOf(t)))?.about).toStrictEqual({ upstream: { projectId: "up" }, downstreamId: "theirs", chain: { id: "c", path: ["up", "ours", "theirs"] } });
  });

  it("a downstream the commit may not show keeps its state but is never enrolled, pushed nor counted", async () => {
    forge.theirs = "private";
    const hidden = [trigger("theirs"), trigger("secret")];

    const versions = await publishChecks(deps, hidden.map((t) => ({ trigger: t, report: report("queued") })));

    expect(versions).toEqual([1, 1]);
    expect((await deps.checks.get(keyOf(hidden[0]!)))?.report.status).toBe("queued");
    expect(await deps.views.isMember(targetOf(upstream()), keyOf(hidden[0]!))).toBe(false);
    expect(await pushes()).toEqual([]);
    expect(await deps.views.load("rollup", CommitViews.keyFor(targetOf(upstream())))).toBeUndefined();
  });

  it("hidden beside shown ones: only the shown are enrolled and pushed", async () => {
    forge.theirs = "private";
    await publishChecks(deps, [{ trigger: trigger("theirs"), report: report("queued") }, { trigger: trigger("ours"), report: report("queued") }]);

    const view = await deps.views.load("rollup", CommitViews.keyFor(targetOf(upstream())));
    expect(view?.members.map((m) => m.about?.downstreamId)).toEqual(["ours"]);
    expect((await pushes()).filter((p) => p.startsWith("sync"))).toEqual([`sync report-${keyOf(trigger("ours"))}-1 → ${keyOf(trigger("ours"))}`]);
  });

  it("a check shown before and hidden now: its own check is not pushed, its commit's views are pushed again (without it)", async () => {
    const t = trigger("theirs");
    await publishCheck(deps, t, report("queued"));
    const commit = CommitViews.keyFor(targetOf(upstream()));
    forge.theirs = "private";

    expect(await publishCheck(deps, t, report("in_progress"))).toBe(true);
    const unchanged = await publishCheck(deps, t, report("in_progress"));

    expect(unchanged).toBe(false);
    expect((await pushes()).filter((p) => p.startsWith("sync"))).toEqual([`sync report-${keyOf(t)}-1 → ${keyOf(t)}`]);
    expect((await deps.views.load("rollup", commit))?.version).toBe(2);
    expect((await deps.views.load("comment", commit))?.version).toBe(2);
  });
});

describe("publishChecks with a settle time (OPENCI_REPORT_SETTLE_MS): states in quick succession, one push", () => {
  const SETTLE = 60_000;
  const delayed = async () => (await queues.report.getJobs(["delayed"])).map((j) => `${j.name} ${j.id} delay=${j.opts.delay}`).sort();

  it("queued, then dispatched within it: one delayed push per check and per view, which will write the latest state", async () => {
    const settled = { ...deps, reportSettleMs: SETTLE };
    const t = trigger("ours");
    const commit = CommitViews.keyFor(targetOf(upstream()));

    expect(await publishCheck(settled, t, report("queued"))).toBe(true);
    expect(await publishCheck(settled, t, report("in_progress"))).toBe(true);

    expect(await pushes()).toEqual([
      `comment report-comment-${commit}-1 → ${commit}`, `rollup report-rollup-${commit}-1 → ${commit}`, `sync report-${keyOf(t)}-1 → ${keyOf(t)}`,
    ].sort());
    expect(await delayed()).toEqual([
      `comment report-comment-${commit}-1 delay=${SETTLE}`, `rollup report-rollup-${commit}-1 delay=${SETTLE}`, `sync report-${keyOf(t)}-1 delay=${SETTLE}`,
    ].sort());
    // what the waiting push will write when it runs: the latest state, two versions past nothing
    expect(await deps.checks.get(keyOf(t))).toMatchObject({ report: { status: "in_progress" }, version: 2, pushedVersion: 0 });
    expect((await deps.views.load("rollup", commit))?.version).toBe(2);
  });

  it("joins a check's states, never two checks: a fan-out still queues one push per check", async () => {
    const settled = { ...deps, reportSettleMs: SETTLE };
    const both = [trigger("ours"), trigger("theirs")];

    await publishChecks(settled, both.map((t) => ({ trigger: t, report: report("queued") })));
    await publishChecks(settled, both.map((t) => ({ trigger: t, report: report("in_progress") })));

    expect((await delayed()).filter((p) => p.startsWith("sync"))).toEqual(both.map((t) => `sync report-${keyOf(t)}-1 delay=${SETTLE}`).sort());
  });

  it("states recorded while the check's push runs leave exactly one more push, after it, for the latest", async () => {
    const settled = { ...deps, reportSettleMs: 30 };
    const t = trigger("ours");
    await publishCheck(settled, t, report("queued"));
    await new Promise((r) => setTimeout(r, 100)); // past the settle time

    const connection = redis().duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker("report", null, { connection, prefix: KEY_PREFIX, autorun: false });
    try {
      const taken = await Promise.all(["t1", "t2", "t3"].map(async (token) => ({ job: (await worker.getNextJob(token)) as Job, token })));
      const sync = taken.find((x) => x.job.name === "sync")!;
      await publishCheck(settled, t, report("in_progress"));
      await publishCheck(settled, t, report("completed"));
      const whileRunning = (await queues.report.getJobs(["waiting", "delayed"])).filter((j) => j.name === "sync");
      await sync.job.moveToCompleted("written", sync.token, false);
      const after = (await queues.report.getJobs(["waiting", "delayed"])).filter((j) => j.name === "sync").map((j) => `${j.id} v${j.data.version}`);

      expect(sync.job.id).toBe(`report-${keyOf(t)}-1`);
      expect(whileRunning).toEqual([]);
      expect(after).toEqual([`report-${keyOf(t)}-3 v3`]);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });

  it("without one (0), each state is its own push, at once", async () => {
    const t = trigger("ours");
    await publishCheck({ ...deps, reportSettleMs: 0 }, t, report("queued"));
    await publishCheck({ ...deps, reportSettleMs: 0 }, t, report("in_progress"));

    expect(await delayed()).toEqual([]);
    expect((await pushes()).filter((p) => p.startsWith("sync"))).toEqual([`sync report-${keyOf(t)}-1 → ${keyOf(t)}`, `sync report-${keyOf(t)}-2 → ${keyOf(t)}`]);
  });
});

describe("CommitViews: the roll-up and the failure comment of a commit", () => {
  const target: CheckTarget = { forge: "github", repo: "upco/lib", sha: SHA, installationId: 7, ref: "v1.0.0" };

  it("one key per commit, whatever tag or installation names it; forge, host, repository (any case) and commit tell commits apart", () => {
    const k = CommitViews.keyFor(target);
    expect(CommitViews.keyFor({ ...target, repo: "UpCo/Lib" })).toBe(k);
    expect(CommitViews.keyFor({ ...target, ref: "v2", installationId: 8 } as CheckTarget)).toBe(k);
    expect(new Set([k, CommitViews.keyFor({ ...target, sha: OTHER_SHA }), CommitViews.keyFor({ ...target, forge: "gitlab" }),
      CommitViews.keyFor({ ...target, forge: "gitlab", host: "gitlab.example.org" }), CommitViews.keyFor({ ...target, repo: "upco/other" })]).size).toBe(5);
  });

  it("is keyed like the roll-up check itself (`openci`) on that commit", () => {
    expect(CommitViews.keyFor(target)).toBe(checkKey({ upstream: target, sha: SHA, name: "openci" }));
  });

  it("has no view of a commit nothing was published on", async () => {
    const views = new CommitViews(redis(), new CheckStore(redis()));
    await views.enroll(target, []);

    expect(await views.load("rollup", CommitViews.keyFor(target))).toBeUndefined();
    expect(await redis().exists(`${KEY_PREFIX}:commit:${CommitViews.keyFor(target)}:members`)).toBe(0);
    expect(await views.isMember(target, "k")).toBe(false);
  });

  it("reads its members' latest states, leaving out a member whose check is gone", async () => {
    const checks = new CheckStore(redis());
    const views = new CommitViews(redis(), checks);
    await checks.advance("a", target, report("completed", { externalId: "a" }));
    await views.enroll(target, ["a", "gone"]);
    await views.touch(queues, target);
    await checks.advance("a", target, report("completed", { externalId: "a", conclusion: "failure", title: "later" }));

    const view = await views.load("comment", CommitViews.keyFor(target));

    expect(view?.members.map((m) => [m.report.externalId, m.report.title])).toEqual([["a", "later"]]);
    expect(await views.isMember(target, "gone")).toBe(true);
  });

  it("remembers what was pushed and what the forge returned; never lowers it; nothing returned reads as nothing", async () => {
    const views = new CommitViews(redis(), new CheckStore(redis()));
    const commit = CommitViews.keyFor(target);
    await views.touch(queues, target);
    await views.touch(queues, target);

    await views.markPushed("rollup", commit, 2, "check-run-9");
    await views.markPushed("rollup", commit, 1, "check-run-9");
    const rollup = await views.load("rollup", commit);
    await views.markPushed("comment", commit, 1, undefined);
    const comment = await views.load("comment", commit);

    expect(rollup).toMatchObject({ version: 2, pushedVersion: 2, remote: "check-run-9" });
    expect(comment).toMatchObject({ version: 2, pushedVersion: 1, remote: undefined });
  });

  it("keeps members and views 30 days from the last change", async () => {
    const views = new CommitViews(redis(), new CheckStore(redis()));
    const commit = CommitViews.keyFor(target);
    await views.enroll(target, ["a"]);
    await views.touch(queues, target);

    for (const part of ["members", "rollup", "comment"]) {
      const ttl = await redis().ttl(`${KEY_PREFIX}:commit:${commit}:${part}`);
      expect([part, ttl > DAYS_30 - 10 && ttl <= DAYS_30]).toEqual([part, true]);
    }
  });

  it("one waiting push per view: touches while it waits join it; a touch while it runs leaves exactly one more", async () => {
    const views = new CommitViews(redis(), new CheckStore(redis()));
    const commit = CommitViews.keyFor(target);
    await views.touch(queues, target);
    await views.touch(queues, target);
    const waiting = await pushes();

    const connection = redis().duplicate({ maxRetriesPerRequest: null });
    const worker = new Worker("report", null, { connection, prefix: KEY_PREFIX, autorun: false });
    try {
      const running = [(await worker.getNextJob("t1")) as Job, (await worker.getNextJob("t2")) as Job];
      await views.touch(queues, target);
      await views.touch(queues, target);
      const whileRunning = await queues.report.getJobs(["waiting"]);
      for (const [i, job] of running.entries()) await job.moveToCompleted("done", `t${i + 1}`, false);
      const after = await pushes();

      expect(waiting).toEqual([`comment report-comment-${commit}-1 → ${commit}`, `rollup report-rollup-${commit}-1 → ${commit}`]);
      expect(whileRunning).toEqual([]);
      expect(after).toEqual([`comment report-comment-${commit}-4 → ${commit}`, `rollup report-rollup-${commit}-4 → ${commit}`]);
      expect((await views.load("rollup", commit))?.target).toStrictEqual(target);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });
});

describe("rerunTargets: what a re-run asks for", () => {
  const event = { forge: "github" as const, repo: "upco/lib", sha: SHA };
  const publish = (downstreamId: string, r: StatusReport) => publishCheck(deps, trigger(downstreamId), { ...r, externalId: `run-${downstreamId}` });

  it("one relay run: that run, as it is", async () => {
    expect(await rerunTargets(deps, { ...event, scope: { kind: "one", relayRunId: "trigger-0123" } })).toEqual({ runIds: ["trigger-0123"] });
  });

  it("a downstream: its latest run once finished; else why not (404 never triggered, 409 still going)", async () => {
    await publish("ours", report("completed", { conclusion: "failure" }));
    await publish("theirs", report("in_progress"));
    await publishCheck(deps, trigger("secret"), report("queued"));
    const scope = (downstreamId: string) => ({ ...event, scope: { kind: "downstream" as const, downstreamId } });

    expect(await rerunTargets(deps, scope("ours"))).toEqual({ runIds: ["run-ours"] });
    expect(await rerunTargets(deps, scope("theirs"))).toEqual({ runIds: [], nothing: { status: 409, reason: `'theirs' has not finished on upco/lib@${SHA} (in progress): re-run it once it has` } });
    expect((await rerunTargets(deps, scope("secret"))).nothing?.reason).toBe(`'secret' has not finished on upco/lib@${SHA} (queued): re-run it once it has`);
    expect(await rerunTargets(deps, scope("other"))).toEqual({ runIds: [], nothing: { status: 404, reason: `'other' was not triggered for upco/lib@${SHA}` } });
    expect((await rerunTargets(deps, { ...scope("ours"), forge: "gitlab" })).nothing?.status).toBe(404);
  });

  it("every failed downstream: those completed without passing (no conclusion counts as neutral), none running", async () => {
    const conclusions = ["success", "neutral", "skipped", "failure", "cancelled", "timed_out", "action_required"] as const;
    for (const c of conclusions) await publish(c.replace("_", "-"), report("completed", { conclusion: c }));
    await publish("none", report("completed", { conclusion: undefined }));
    await publish("running", report("in_progress"));

    const { runIds, nothing } = await rerunTargets(deps, { ...event, scope: { kind: "failed" } });

    expect(nothing).toBeUndefined();
    expect(runIds.sort()).toEqual(["run-action-required", "run-cancelled", "run-failure", "run-timed-out"]);
  });

  it("every failed downstream: why not when nothing failed (409) or nothing was triggered (404)", async () => {
    await publish("ours", report("completed", { conclusion: "success" }));
    await publish("theirs", report("in_progress"));

    expect(await rerunTargets(deps, { ...event, scope: { kind: "failed" } })).toEqual({ runIds: [], nothing: { status: 409, reason: `no downstream of upco/lib@${SHA} has failed` } });
    expect(await rerunTargets(deps, { ...event, sha: OTHER_SHA, scope: { kind: "failed" } })).toEqual({ runIds: [], nothing: { status: 404, reason: `the relay triggered nothing for upco/lib@${OTHER_SHA}` } });
  });
});
