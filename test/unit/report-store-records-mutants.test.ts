/**
 * The relay's small stores beside the checks, in-process against a real Redis: the per-check write
 * lock, the tags seen per upstream, the trigger records (and their binding to downstream runs), and
 * the triggers waiting at a gate. Written to kill the mutants of
 * src/report/{check-lock,seen-tags,trigger-records,gates}.ts in milliseconds
 * (`npm run test:mutation -- report-store`, TESTING.md) where the end-to-end tests take seconds.
 *
 * Their Redis keys are the stored format: a relay upgraded (or a second relay process of another
 * version) reads what the previous one wrote, so a few tests write state under the literal keys.
 */
import { beforeEach, describe, expect, it, jest } from "@jest/globals";
import { DelayedError, type Job } from "bullmq";
import type { TriggerResult } from "../../src/forge/roles.js";
import type { TriggerJob } from "../../src/queue/job-data.js";
import { KEY_PREFIX } from "../../src/queue/names.js";
import { withCheckLock } from "../../src/report/check-lock.js";
import { Gates } from "../../src/report/gates.js";
import { SeenTags } from "../../src/report/seen-tags.js";
import { TriggerRecords, type TriggerRecord } from "../../src/report/trigger-records.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const redis = useTestRedisClient();

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OTHER_SHA = "fedcba9876543210fedcba9876543210fedcba98";
const DAYS_30 = 30 * 24 * 3600;

beforeEach(async () => {
  await redis().flushdb();
});

async function expectTtl30Days(key: string): Promise<void> {
  const ttl = await redis().ttl(key);
  expect([key, ttl > DAYS_30 - 10 && ttl <= DAYS_30]).toEqual([key, true]);
}

/** A job of the report queue as withCheckLock uses it: where it was sent back to wait. */
function recordedJob() {
  const delayed: { until: number; token: string | undefined }[] = [];
  const job = { moveToDelayed: async (until: number, token?: string) => { delayed.push({ until, token }); } } as unknown as Job;
  return { job, delayed };
}

/** A promise and its resolver, to hold a writer inside the lock. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

/** Waits until a writer is inside the lock; fails at once when it ends (or is refused) without getting there. */
async function inside(writing: Promise<unknown>, entered: Promise<void>): Promise<void> {
  let done = false;
  const ended = (error: unknown) => {
    if (!done) throw error;
  };
  await Promise.race([
    entered.then(() => { done = true; }),
    writing.then(() => ended(new Error("the writer ended without entering the lock")), ended),
  ]);
}

const lockKey = (checkKey: string) => `${KEY_PREFIX}:lock:check:${checkKey}`;

describe("withCheckLock: one writer per upstream check", () => {
  it("a second writer of the same check waits its turn in the delayed set (¼ s) without running nor using an attempt; another check is not held up", async () => {
    const first = gate();
    const entered = gate();
    const holding = withCheckLock(redis(), "sync-a", recordedJob().job, "t1", async () => { entered.open(); await first.opened; return "first"; });
    await inside(holding, entered.opened);
    const { job, delayed } = recordedJob();
    let ran = false;

    const before = Date.now();
    const second = withCheckLock(redis(), "sync-a", job, "t2", async () => { ran = true; });
    await expect(second).rejects.toBeInstanceOf(DelayedError);
    const other = await withCheckLock(redis(), "sync-b", recordedJob().job, "t3", async () => "other");
    first.open();

    expect(await holding).toBe("first");
    expect(other).toBe("other");
    expect(ran).toBe(false);
    expect(delayed).toHaveLength(1);
    expect(delayed[0]!.token).toBe("t2");
    expect(delayed[0]!.until).toBeGreaterThanOrEqual(before + 250);
    expect(delayed[0]!.until).toBeLessThanOrEqual(Date.now() + 250);
  });

  it("is released when the writer ends, with its result or its error, so the next writer goes on at once", async () => {
    const failed = withCheckLock(redis(), "rollup-c", recordedJob().job, "t", async () => { throw new Error("forge said 502"); });
    await expect(failed).rejects.toThrow("forge said 502");
    expect(await redis().exists(lockKey("rollup-c"))).toBe(0);

    const { job, delayed } = recordedJob();
    expect(await withCheckLock(redis(), "rollup-c", job, "t", async () => 42)).toBe(42);
    expect(delayed).toEqual([]);
    expect(await redis().exists(lockKey("rollup-c"))).toBe(0);
  });

  it("holds off writers of every relay process: a lock another one holds delays this one", async () => {
    await redis().set(lockKey("sync-d"), "another-process", "PX", 10_000);
    const { job, delayed } = recordedJob();

    await expect(withCheckLock(redis(), "sync-d", job, "t", async () => "ran")).rejects.toBeInstanceOf(DelayedError);
    expect(delayed).toHaveLength(1);
    expect(await redis().get(lockKey("sync-d"))).toBe("another-process");
  });

  it("lasts a job lock's time (30 s by default, else lockMs), so a writer that dies holds the check no longer", async () => {
    const ttls: number[] = [];
    await withCheckLock(redis(), "sync-e", recordedJob().job, "t", async () => { ttls.push(await redis().pttl(lockKey("sync-e"))); });
    await withCheckLock(redis(), "sync-e", recordedJob().job, "t", async () => { ttls.push(await redis().pttl(lockKey("sync-e"))); }, 5_000);

    expect(ttls[0]).toBeGreaterThan(29_000);
    expect(ttls[0]).toBeLessThanOrEqual(30_000);
    expect(ttls[1]).toBeGreaterThan(4_000);
    expect(ttls[1]).toBeLessThanOrEqual(5_000);
  });

  it("never releases a lock that has passed to another writer (its own had expired)", async () => {
    await withCheckLock(redis(), "sync-f", recordedJob().job, "t", async () => {
      await redis().set(lockKey("sync-f"), "next-writer", "PX", 10_000);
    });

    expect(await redis().get(lockKey("sync-f"))).toBe("next-writer");
  });

  it("is renewed every half of its time while the writer works, and no longer once it is done", async () => {
    jest.useFakeTimers({ doNotFake: ["nextTick", "setImmediate", "queueMicrotask", "Date", "performance", "hrtime"] });
    try {
      const working = gate();
      const entered = gate();
      const writing = withCheckLock(redis(), "sync-g", recordedJob().job, "t", async () => { entered.open(); await working.opened; }, 10_000);
      await inside(writing, entered.opened);
      // As if most of its time had passed: a renewal sets it back to 10 s.
      await redis().pexpire(lockKey("sync-g"), 3_000);

      await jest.advanceTimersByTimeAsync(4_999);
      const beforeHalf = await redis().pttl(lockKey("sync-g"));
      await jest.advanceTimersByTimeAsync(1);
      const renewed = await until(async () => redis().pttl(lockKey("sync-g")), (ttl) => ttl > 3_000);
      working.open();
      await writing;
      await redis().set(lockKey("sync-g"), "next-writer", "PX", 3_000);
      await jest.advanceTimersByTimeAsync(5_000);
      const afterwards = await redis().pttl(lockKey("sync-g"));

      expect(beforeHalf).toBeLessThanOrEqual(3_000);
      expect(renewed).toBeGreaterThan(9_000);
      expect(afterwards).toBeLessThanOrEqual(3_000);
    } finally {
      jest.useRealTimers();
    }
  });

  it("renews only its own lock", async () => {
    jest.useFakeTimers({ doNotFake: ["nextTick", "setImmediate", "queueMicrotask", "Date", "performance", "hrtime"] });
    try {
      const working = gate();
      const entered = gate();
      const writing = withCheckLock(redis(), "sync-h", recordedJob().job, "t", async () => { entered.open(); await working.opened; }, 10_000);
      await inside(writing, entered.opened);
      await redis().set(lockKey("sync-h"), "next-writer", "PX", 3_000);

      await jest.advanceTimersByTimeAsync(5_000);
      await new Promise((resolve) => setImmediate(resolve));
      const ttl = await redis().pttl(lockKey("sync-h"));
      working.open();
      await writing;

      expect(ttl).toBeLessThanOrEqual(3_000);
      expect(await redis().get(lockKey("sync-h"))).toBe("next-writer");
    } finally {
      jest.useRealTimers();
    }
  });
});

/** Polls (real time, ≤ 2 s) until `ok` holds; returns the last value. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 2_000;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((resolve) => setImmediate(resolve));
    v = await read();
  }
  return v;
}

describe("SeenTags: the tags the relay has seen per upstream", () => {
  it("tells which tags were not seen yet, in the order asked, per project", async () => {
    const seen = new SeenTags(redis());
    await seen.mark("up", ["v1.0", "v1.1"]);
    await seen.mark("other", ["v2.0"]);

    expect(await seen.unseen("up", ["v2.0", "v1.1", "v1.2", "v1.0"])).toEqual(["v2.0", "v1.2"]);
    expect(await seen.unseen("new", ["v1.0"])).toEqual(["v1.0"]);
  });

  it("marking nothing and asking about nothing are no-ops", async () => {
    const seen = new SeenTags(redis());
    await seen.mark("up", []);

    expect(await seen.unseen("up", [])).toEqual([]);
    expect(await redis().dbsize()).toBe(0);
  });

  it("the baseline is taken once per project, ever", async () => {
    const seen = new SeenTags(redis());

    expect(await seen.takeBaseline("up")).toBe(true);
    expect(await seen.takeBaseline("up")).toBe(false);
    expect(await seen.takeBaseline("other")).toBe(true);
  });

  it("reads what an earlier relay wrote: its seen tags and its baseline are kept", async () => {
    await redis().sadd(`${KEY_PREFIX}:seen-tags:up`, "v1.0");
    await redis().set(`${KEY_PREFIX}:seen-tags-baseline:up`, "2024-01-01T00:00:00.000Z");
    const seen = new SeenTags(redis());

    expect(await seen.unseen("up", ["v1.0", "v1.1"])).toEqual(["v1.1"]);
    expect(await seen.takeBaseline("up")).toBe(false);
  });

  it("notes when the baseline was taken", async () => {
    const before = Date.now();
    await new SeenTags(redis()).takeBaseline("up");

    const at = Date.parse((await redis().get(`${KEY_PREFIX}:seen-tags-baseline:up`))!);
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(Date.now());
  });
});

const triggerJob = (runId: string, o: Partial<TriggerJob> = {}): TriggerJob => ({
  runId, upstream: { projectId: "up", forge: "github", repo: "upco/lib", installationId: 7, tag: "v1.0.0", sha: SHA },
  downstreamId: "app", checkName: "openci: app", deliveryId: "d-1", enqueuedAt: "2024-05-01T10:00:00.000Z", attempt: 0, ...o,
});
const record = (runId: string, result: Partial<TriggerResult> = {}): TriggerRecord => ({
  trigger: triggerJob(runId), forge: "github", downstreamRepo: "OtherCo/App",
  result: { kind: "workflow_dispatch", runId: undefined, webUrl: "https://github.com/OtherCo/App/actions", ...result }, triggeredAt: "2024-05-01T10:00:01.000Z",
});

describe("TriggerRecords: what the relay did for each trigger", () => {
  it("finds a saved trigger by its relay run id, and by the downstream run the forge returned (repository in any case)", async () => {
    const records = new TriggerRecords(redis());
    const saved = record("trigger-1", { runId: "991" });
    await records.save(saved);

    expect(await records.get("trigger-1")).toEqual(saved);
    expect(await records.byDownstreamRun("github", "otherco/app", "991")).toEqual(saved);
    expect(await records.byDownstreamRun("github", "OTHERCO/APP", "991")).toEqual(saved);
    expect(await records.get("trigger-2")).toBeUndefined();
    expect(await records.byDownstreamRun("gitlab", "otherco/app", "991")).toBeUndefined();
    expect(await records.byDownstreamRun("github", "otherco/other", "991")).toBeUndefined();
    expect(await records.byDownstreamRun("github", "otherco/app", "992")).toBeUndefined();
  });

  it("a trigger the forge gave no run id is bound to no downstream run when saved", async () => {
    const records = new TriggerRecords(redis());
    await records.save(record("trigger-1"));

    expect(await records.get("trigger-1")).toEqual(record("trigger-1"));
    expect(await redis().keys(`${KEY_PREFIX}:downstream-run:*`)).toEqual([]);
  });

  it("keeps records and bindings 30 days", async () => {
    const records = new TriggerRecords(redis());
    await records.save(record("trigger-1", { runId: "991" }));
    await records.save(record("trigger-2"));
    await records.link(record("trigger-2"), "992");
    await records.intend("trigger-3");

    await expectTtl30Days(`${KEY_PREFIX}:triggered:trigger-1`);
    await expectTtl30Days(`${KEY_PREFIX}:downstream-run:github:otherco/app:991`);
    await expectTtl30Days(`${KEY_PREFIX}:downstream-run:github:otherco/app:992`);
    await expectTtl30Days(`${KEY_PREFIX}:trigger-bound:trigger-2`);
    await expectTtl30Days(`${KEY_PREFIX}:trigger-intent:trigger-3`);
  });

  it("an attempt about to call the forge learns when an earlier attempt did so without recording an outcome", async () => {
    const records = new TriggerRecords(redis());
    const first = new Date("2024-05-01T10:00:00.000Z");

    expect(await records.intend("trigger-1", first)).toBeUndefined();
    expect(await records.intend("trigger-1", new Date("2024-05-01T10:05:00.000Z"))).toEqual(first);
    expect(await records.intend("trigger-1")).toEqual(first);
    expect(await records.intend("trigger-2")).toBeUndefined();
  });

  it("binds a trigger without run id to the first downstream run claiming it, once; the same run may claim it again", async () => {
    const records = new TriggerRecords(redis());
    const saved = record("trigger-1");
    await records.save(saved);

    expect(await records.link(saved, "991")).toBe(true);
    expect(await records.link(saved, "991")).toBe(true);
    expect(await records.link(saved, "992")).toBe(false);
    expect(await records.byDownstreamRun("github", "otherco/app", "991")).toEqual(saved);
    expect(await records.byDownstreamRun("github", "otherco/app", "992")).toBeUndefined();
  });

  it("reads what an earlier relay wrote: records, bindings and intents", async () => {
    const saved = record("trigger-1");
    await redis().set(`${KEY_PREFIX}:triggered:trigger-1`, JSON.stringify(saved));
    await redis().set(`${KEY_PREFIX}:downstream-run:github:otherco/app:991`, "trigger-1");
    await redis().set(`${KEY_PREFIX}:trigger-intent:trigger-1`, "2024-05-01T10:00:00.000Z");
    await redis().set(`${KEY_PREFIX}:trigger-bound:trigger-1`, "991");
    const records = new TriggerRecords(redis());

    expect(await records.byDownstreamRun("github", "OtherCo/App", "991")).toEqual(saved);
    expect(await records.intend("trigger-1")).toEqual(new Date("2024-05-01T10:00:00.000Z"));
    expect(await records.link(saved, "992")).toBe(false);
  });
});

describe("Gates: triggers waiting for an upstream check on a commit", () => {
  const place = { forge: "github", repo: "upco/lib" };

  it("shows the triggers waiting without letting them go; hands each out once when taken", async () => {
    const gates = new Gates(redis());
    await gates.wait(place, SHA, "ci/build", triggerJob("trigger-1"));
    await gates.wait(place, SHA, "ci/build", triggerJob("trigger-2", { attempt: 1 }));
    await gates.wait(place, SHA, "ci/build", triggerJob("trigger-1", { deliveryId: "d-2" }));

    const peeked = await gates.peek(place, SHA, "ci/build");
    const taken = await gates.take(place, SHA, "ci/build");
    const again = await gates.take(place, SHA, "ci/build");

    const expected = [triggerJob("trigger-1", { deliveryId: "d-2" }), triggerJob("trigger-2", { attempt: 1 })];
    expect(peeked.sort((a, b) => a.runId.localeCompare(b.runId))).toEqual(expected);
    expect(taken.sort((a, b) => a.runId.localeCompare(b.runId))).toEqual(expected);
    expect(again).toEqual([]);
    expect(await gates.peek(place, SHA, "ci/build")).toEqual([]);
  });

  it("keeps checks of other names, other commits and other repositories apart; the repository in any case is the same", async () => {
    const gates = new Gates(redis());
    await gates.wait(place, SHA, "ci/build", triggerJob("trigger-1"));

    expect(await gates.take(place, SHA, "ci/test")).toEqual([]);
    expect(await gates.take(place, SHA, "ci")).toEqual([]);
    expect(await gates.take(place, OTHER_SHA, "ci/build")).toEqual([]);
    expect(await gates.take({ forge: "github", repo: "upco/other" }, SHA, "ci/build")).toEqual([]);
    expect(await gates.take({ forge: "gitlab", repo: "upco/lib" }, SHA, "ci/build")).toEqual([]);
    expect(await gates.take({ forge: "github", host: "gh.example.org", repo: "upco/lib" }, SHA, "ci/build")).toEqual([]);
    expect((await gates.take({ forge: "github", repo: "UpCo/Lib" }, SHA, "ci/build")).map((t) => t.runId)).toEqual(["trigger-1"]);
  });

  it("fills in what a trigger written by an older relay lacks (its attempt)", async () => {
    const gates = new Gates(redis());
    const { attempt: _attempt, ...old } = triggerJob("trigger-1");
    await redis().hset(`${KEY_PREFIX}:gate:github::upco/lib:${SHA}:${Buffer.from("ci/build").toString("base64url")}`, "trigger-1", JSON.stringify(old));

    expect(await gates.peek(place, SHA, "ci/build")).toEqual([triggerJob("trigger-1")]);
    expect(await gates.take(place, SHA, "ci/build")).toEqual([triggerJob("trigger-1")]);
  });

  it("a gate waits 30 days at most", async () => {
    await new Gates(redis()).wait(place, SHA, "ci/build", triggerJob("trigger-1"));

    await expectTtl30Days(`${KEY_PREFIX}:gate:github::upco/lib:${SHA}:Y2kvYnVpbGQ`);
  });
});
