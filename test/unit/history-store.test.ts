import { beforeEach, describe, expect, it } from "@jest/globals";
import { CarReader, CarWriter } from "@ipld/car";
import { HistoryStore } from "../../src/history/history-store.js";
import { block, checkBlock, cidOf, encode } from "../../src/history/cid.js";
import { planExport, verifyCar } from "../../src/history/car.js";
import type { HistoryRecord } from "../../src/history/record.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const redis = useTestRedisClient();
beforeEach(async () => {
  await redis().flushdb();
});
const release = (tag: string, at = "2026-12-01T10:00:00.000Z"): HistoryRecord =>
  ({ v: 1, kind: "release", at, project: "nova", forge: "github", repo: "openstack/nova", tag, sha: SHA, source: "push", artifacts: [] });
const gate = (run: string): HistoryRecord =>
  ({ v: 1, kind: "gate", at: "2026-12-01T10:00:01.000Z", upstream: "nova", downstream: "kolla", run, check: "build", decision: "waiting" });
const ref = (tag: string) => ({ project: "nova", tag, sha: SHA });

describe("content addressing", () => {
  it("gives the same CID whatever the key order, and a different one for any change", async () => {
    const a = await block({ b: 1, a: "x", nested: { z: [1, 2], y: null } });
    const b = await block({ nested: { y: null, z: [1, 2] }, a: "x", b: 1, dropped: undefined });
    const c = await block({ b: 2, a: "x", nested: { z: [1, 2], y: null } });

    expect(new TextDecoder().decode(a.bytes)).toBe('{"a":"x","b":1,"nested":{"y":null,"z":[1,2]}}');
    expect(a.cid.toString()).toBe(b.cid.toString());
    expect(a.cid.toString()).not.toBe(c.cid.toString());
    expect(a.cid.toString()).toMatch(/^bagu/);
    expect(await checkBlock(a.cid, a.bytes)).toBeUndefined();
    expect(await checkBlock(a.cid, c.bytes)).toContain("does not match its CID");
    expect(await checkBlock(a.cid, new TextEncoder().encode('{"b":1,"a":"x","nested":{"y":null,"z":[1,2]}}'))).toContain("does not match");
  });

  it("refuses a record that is not one of the history's kinds", async () => {
    const store = new HistoryStore(redis());

    await expect(store.append({ ...release("v1"), kind: "nonsense" } as never, { key: "k", release: ref("v1") })).rejects.toThrow();
    await expect(store.append({ ...release("v1"), sha: "abc" } as HistoryRecord, { key: "k", release: ref("v1") })).rejects.toThrow();
    expect(await store.size()).toBe(0);
  });
});

describe("the history store", () => {
  it("appends once per idempotency key, keeps records by CID and logs them in order", async () => {
    const store = new HistoryStore(redis());

    const first = await store.append(release("v1"), { key: "release|v1", release: ref("v1") });
    const again = await store.append(release("v1", "2026-12-01T11:00:00.000Z"), { key: "release|v1", release: ref("v1") });
    const second = await store.append(gate("t1"), { key: "gate|t1", release: ref("v1"), head: "t1" });
    const log = await store.logAfter("0", 10);

    expect(first.created).toBe(true);
    expect(again).toEqual({ cid: first.cid, created: false });
    expect(await store.get(first.cid.toString())).toEqual(release("v1"));
    expect((await cidOf((await store.bytes(first.cid.toString()))!)).toString()).toBe(first.cid.toString());
    expect(log.map((e) => [e.cid, e.seq])).toEqual([[first.cid.toString(), 1], [second.cid.toString(), 2]]);
    expect(await store.logAfter(log[0]!.id, 10)).toEqual([log[1]]);
    expect((await store.head("t1"))?.toString()).toBe(second.cid.toString());
    expect((await store.byKey("release|v1"))?.toString()).toBe(first.cid.toString());
    expect(await store.ofRelease("nova", "v1")).toEqual([first.cid.toString(), second.cid.toString()]);
    expect(await store.ofCommit("nova", SHA)).toEqual([first.cid.toString(), second.cid.toString()]);
  });

  it("pages a project's history newest first", async () => {
    const store = new HistoryStore(redis());
    const cids: string[] = [];
    for (let i = 0; i < 7; i++) cids.push((await store.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) })).cid.toString());

    const pages: string[][] = [];
    let before: number | undefined;
    do {
      const page = await store.ofProject("nova", 3, before);
      pages.push(page.items.map((i) => i.cid));
      before = page.next;
    } while (before !== undefined);

    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual([...cids].reverse());
    expect((await store.ofProject("kolla", 3)).items).toEqual([]);
  });

  it("exports to a CAR file that verifies, and reports a changed or missing block", async () => {
    const store = new HistoryStore(redis());
    for (let i = 0; i < 5; i++) await store.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) });
    const chunks: Uint8Array[] = [];

    const plan = await planExport(store, 0);
    await plan.write((c) => void chunks.push(c));
    const car = Buffer.concat(chunks);
    const again = await planExport(store, 0);

    expect(plan.records).toBe(5);
    expect(again.root.toString()).toBe(plan.root.toString());
    expect(await verifyCar(asStream(car))).toMatchObject({ roots: [plan.root.toString()], blocks: 7, tampered: [], missing: [] });

    const changed = Buffer.from(car);
    const at = changed.indexOf(Buffer.from('"tag":"v3"'));
    changed.write('"tag":"v9"', at);
    const report = await verifyCar(asStream(changed));
    expect(report.tampered).toEqual([{ cid: (await block(release("v3"))).cid.toString(), problem: "content does not match its CID (the block was changed)" }]);

    const reader = await CarReader.fromBytes(car);
    const { writer, out } = CarWriter.create(await reader.getRoots());
    const partial: Uint8Array[] = [];
    const piping = (async () => { for await (const c of out) partial.push(c); })();
    const v1 = (await block(release("v1"))).cid.toString();
    for await (const b of reader.blocks()) if (b.cid.toString() !== v1) await writer.put(b);
    await writer.close();
    await piping;
    expect(await verifyCar(asStream(Buffer.concat(partial)))).toMatchObject({ blocks: 6, tampered: [], missing: [v1] });

    const empty = await planExport(store, Date.parse("2999-01-01"));
    expect(empty.records).toBe(0);
    const v3 = (await block(release("v3"))).cid.toString();
    expect(encode(await store.get(v3))).toEqual(await store.bytes(v3));
  });
});

describe("the history's two scopes", () => {
  const secretGate = (run: string): HistoryRecord =>
    ({ v: 1, kind: "gate", at: "2026-12-01T10:00:02.000Z", upstream: "nova", downstream: "secret", run, check: "build", decision: "waiting" });

  it("keeps a private record out of every public read; the private scope reads both, merged in append order", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");

    const r = await open.append(release("v1"), { key: "release|v1", release: ref("v1") });
    const p = await closed.append(secretGate("t1"), { key: "gate|t1", release: ref("v1"), head: "t1", aliases: ["done|t1"] });
    const g = await open.append(gate("t2"), { key: "gate|t2", release: ref("v1") });
    const [rc, pc, gc] = [r.cid.toString(), p.cid.toString(), g.cid.toString()];

    expect(await open.get(pc)).toBeUndefined();
    expect(await open.bytes(pc)).toBeUndefined();
    expect((await open.records([rc, pc, gc])).map((x) => x.cid)).toEqual([rc, gc]);
    expect(await open.ofRelease("nova", "v1")).toEqual([rc, gc]);
    expect(await open.ofCommit("nova", SHA)).toEqual([rc, gc]);
    expect((await open.ofProject("secret", 10)).items).toEqual([]);
    expect(await open.recent("gate", 10)).toEqual([gc]);
    expect(await open.byKey("gate|t1")).toBeUndefined();
    expect(await open.byKey("done|t1")).toBeUndefined();
    expect(await open.head("t1")).toBeUndefined();
    expect((await open.logAfter("0", 10)).map((e) => e.cid)).toEqual([rc, gc]);

    expect(await closed.get(pc)).toEqual(secretGate("t1"));
    expect(await closed.ofRelease("nova", "v1")).toEqual([rc, pc, gc]);
    expect(await closed.recent("gate", 10)).toEqual([gc, pc]);
    expect((await closed.ofProject("nova", 2)).items.map((i) => i.cid)).toEqual([gc, pc]);
    expect((await closed.byKey("release|v1"))?.toString()).toBe(rc);
    expect((await closed.head("t1"))?.toString()).toBe(pc);
  });

  it("shares one sequence, and the full log holds every record in order with its scope", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");

    await open.append(release("v1"), { key: "a", release: ref("v1") });
    await closed.append(secretGate("t1"), { key: "b", release: ref("v1") });
    await open.append(gate("t2"), { key: "c", release: ref("v1") });
    const full = await closed.logAfter("0", 10);

    expect(full.map((e) => [e.seq, e.scope])).toEqual([[1, "public"], [2, "private"], [3, "public"]]);
    expect((await open.logAfter("0", 10)).map((e) => e.seq)).toEqual([1, 3]);
    expect(await closed.logAfter(full[0]!.id, 10)).toEqual(full.slice(1));
    expect(await closed.lastLogId()).toBe(full[2]!.id);
    expect([await open.size(), await closed.size()]).toEqual([2, 3]);
  });

  it("appends once per idempotency key within a scope; the same key in the other scope is another record", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");

    const first = await open.append(gate("t1"), { key: "gate|t1", release: ref("v1") });
    const other = await closed.append(secretGate("t1"), { key: "gate|t1", release: ref("v1") });
    const again = await closed.append(secretGate("t1"), { key: "gate|t1", release: ref("v1") });

    expect(first.created && other.created).toBe(true);
    expect(again).toEqual({ cid: other.cid, created: false });
    expect((await open.byKey("gate|t1"))?.toString()).toBe(first.cid.toString());
    expect((await closed.byKey("gate|t1"))?.toString()).toBe(other.cid.toString());
  });

  it("moves a run's head in the private scope from where the public one stood (compare-and-set over both)", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");
    const before = await open.append(gate("t1"), { key: "one", release: ref("v1"), head: "t1", expectHead: "" });

    const stale = await closed.append(secretGate("t1"), { key: "two", release: ref("v1"), head: "t1", expectHead: "" });
    const moved = await closed.append(secretGate("t1"), { key: "two", release: ref("v1"), head: "t1", expectHead: before.cid.toString() });

    expect(stale.conflict).toBe(true);
    expect(moved.created).toBe(true);
    expect((await closed.head("t1"))?.toString()).toBe(moved.cid.toString());
    expect((await open.head("t1"))?.toString()).toBe(before.cid.toString());
  });

  it("exports the public log alone, or every record including public ones from before the full log began", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");
    const old = await open.append(release("v0"), { key: "old", release: ref("v0") });
    await redis().del("{openci}:hist:log:full"); // as before the upgrade that added the full log
    const hidden = await closed.append(secretGate("t1"), { key: "secret", release: ref("v0") });
    const later = await open.append(release("v1"), { key: "later", release: ref("v1") });

    const publicPlan = await planExport(open, 0);
    const fullPlan = await planExport(closed, 0);
    const chunks: Uint8Array[] = [];
    await publicPlan.write((c) => void chunks.push(c));
    const car = Buffer.concat(chunks);

    expect(publicPlan.records).toBe(2);
    expect(fullPlan.records).toBe(3);
    expect(car.includes(Buffer.from("secret"))).toBe(false);
    expect(await verifyCar(asStream(car))).toMatchObject({ tampered: [], missing: [], unlisted: [] });
    const order: string[] = [];
    for await (const e of closed.logSince(0)) order.push(e.cid);
    expect(order).toEqual([old.cid.toString(), hidden.cid.toString(), later.cid.toString()]);
  });
});

async function* asStream(b: Uint8Array) {
  for (let i = 0; i < b.length; i += 97) yield b.subarray(i, i + 97);
}
