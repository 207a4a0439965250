import { beforeEach, describe, expect, it } from "@jest/globals";
import { CarBlockIterator } from "@ipld/car";
import { planExport, verifyCar, type ExportOptions } from "../../src/history/car.js";
import { PartJoiner } from "../../src/history/car-parts.js";
import { decode } from "../../src/history/cid.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const redis = useTestRedisClient();
beforeEach(async () => {
  await redis().flushdb();
});
const release = (tag: string): HistoryRecord =>
  ({ v: 1, kind: "release", at: "2026-12-01T10:00:00.000Z", project: "nova", forge: "github", repo: "openstack/nova", tag, sha: SHA, source: "push", artifacts: [] });
const gate = (run: string, downstream = "kolla"): HistoryRecord =>
  ({ v: 1, kind: "gate", at: "2026-12-01T10:00:01.000Z", upstream: "nova", downstream, run, check: "build", decision: "waiting" });
const ref = (tag: string) => ({ project: "nova", tag, sha: SHA });

async function carOf(plan: Awaited<ReturnType<typeof planExport>>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  await plan.write((c) => void chunks.push(c));
  return Buffer.concat(chunks);
}
async function* chunked(b: Uint8Array) {
  for (let i = 0; i < b.length; i += 211) yield b.subarray(i, i + 211);
}

/** Every part of an export, as a client following `next` gets them. */
async function parts(store: HistoryStore, sinceMs: number, o: ExportOptions) {
  const got: { records: number; next?: string; car: Buffer }[] = [];
  let after: string | undefined;
  do {
    const plan = await planExport(store, sinceMs, { ...o, ...(after ? { after } : {}) });
    got.push({ records: plan.records, next: plan.next, car: await carOf(plan) });
    after = plan.next;
    if (got.length > 100) throw new Error("the parts never end");
  } while (after !== undefined);
  return got;
}

async function join(cars: Buffer[]) {
  const joiner = new PartJoiner();
  for (const car of cars) await joiner.add(chunked(car));
  const chunks: Uint8Array[] = [];
  const result = await joiner.write((c) => void chunks.push(c));
  return { ...result, car: Buffer.concat(chunks) };
}

describe("a history export in parts", () => {
  it("stops each part at its size, says where the next starts, and joins into the root of an export in one part", async () => {
    const store = new HistoryStore(redis());
    for (let i = 0; i < 8; i++) {
      await store.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) });
      await store.append(gate(`t${i}`), { key: `g${i}`, release: ref(`v${i}`), head: `t${i}` });
    }
    const whole = await planExport(store, 0);

    const got = await parts(store, 0, { maxEntries: 5 });
    const joined = await join(got.map((p) => p.car));

    expect(whole.records).toBe(16);
    expect(whole.next).toBeUndefined();
    expect(got.map((p) => p.records)).toEqual([5, 5, 5, 1]);
    expect(got.slice(0, -1).every((p) => /^\d+-\d+$/.test(p.next!))).toBe(true);
    expect(got.at(-1)!.next).toBeUndefined();
    expect(joined.records).toBe(16);
    expect(joined.root.toString()).toBe(whole.root.toString());
    expect(joined.car.equals(await carOf(whole))).toBe(true);
    expect(await verifyCar(chunked(joined.car))).toMatchObject({ roots: [whole.root.toString()], tampered: [], missing: [], unlisted: [] });
  });

  it("names its cursor in its own root, so a part verifies on its own and is not mistaken for the whole", async () => {
    const store = new HistoryStore(redis());
    for (let i = 0; i < 3; i++) await store.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) });

    const [first, second] = await parts(store, 0, { maxEntries: 2 });
    const reader = await CarBlockIterator.fromIterable(chunked(first!.car));
    const [root] = await reader.getRoots();
    let manifest: { next?: string; after?: string; records?: number } | undefined;
    for await (const b of reader) if (b.cid.equals(root!)) manifest = decode(b.bytes);

    expect(manifest).toMatchObject({ records: 2, next: first!.next });
    expect(manifest!.after).toBeUndefined();
    expect(await verifyCar(chunked(first!.car))).toMatchObject({ blocks: 4, tampered: [], missing: [], unlisted: [] });
    expect(await verifyCar(chunked(second!.car))).toMatchObject({ blocks: 3, tampered: [], missing: [], unlisted: [] });
  });

  it("joins the private scope's two merged logs the same way, with no record twice or left out", async () => {
    const open = new HistoryStore(redis());
    const closed = open.inScope("private");
    const wrote: string[] = [];
    for (let i = 0; i < 6; i++) {
      wrote.push((await open.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) })).cid.toString());
      wrote.push((await closed.append(gate(`s${i}`, "secret"), { key: `s${i}`, release: ref(`v${i}`) })).cid.toString());
    }
    const whole = await planExport(closed, 0);

    for (const size of [1, 2, 3, 5, 7]) {
      const got = await parts(closed, 0, { maxEntries: size });
      const joined = await join(got.map((p) => p.car));
      const order: string[] = [];
      const reader = await CarBlockIterator.fromIterable(chunked(joined.car));
      for await (const b of reader) if (wrote.includes(b.cid.toString())) order.push(b.cid.toString());

      expect({ size, root: joined.root.toString() }).toEqual({ size, root: whole.root.toString() });
      expect(order).toEqual(wrote);
    }
  });

  it("leaves hidden records out of a public part, and still goes on to the next", async () => {
    const store = new HistoryStore(redis());
    for (let i = 0; i < 4; i++) await store.append(gate(`h${i}`, "hush"), { key: `h${i}`, release: ref("v0") });
    for (let i = 0; i < 2; i++) await store.append(release(`v${i}`), { key: `r${i}`, release: ref(`v${i}`) });
    const visible: ExportOptions["visible"] = async (items) => items.filter((i) => i.record.kind !== "gate" || i.record.downstream !== "hush");

    const got = await parts(store, 0, { maxEntries: 3, visible });
    const joined = await join(got.map((p) => p.car));

    expect(got.map((p) => p.records)).toEqual([0, 2]);
    expect(joined.records).toBe(2);
    expect(joined.car.includes(Buffer.from("hush"))).toBe(false);
    expect(joined.root.toString()).toBe((await planExport(store, 0, { visible })).root.toString());
  });

  it("refuses a cursor it did not give, and a part that is not an export", async () => {
    const store = new HistoryStore(redis());
    await store.append(release("v1"), { key: "r1", release: ref("v1") });

    await expect(planExport(store, 0, { after: "yesterday" })).rejects.toThrow("'yesterday' is not an export cursor");
    const joiner = new PartJoiner();
    await expect(joiner.add(chunked(Buffer.from("not a car at all")))).rejects.toThrow();
    await joiner.discard();
  });
});
