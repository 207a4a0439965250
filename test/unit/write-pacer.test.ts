import { afterEach, describe, expect, it } from "@jest/globals";
import { PRIORITY, WritePacer } from "../../src/forge/write-pacer.js";

let pacer: WritePacer | undefined;
afterEach(() => pacer?.close());

describe("WritePacer", () => {
  it("spaces writes of one installation at least the interval apart", async () => {
    pacer = new WritePacer(100);
    const times: number[] = [];

    await Promise.all([1, 2, 3].map(() => pacer!.acquire("inst-1", PRIORITY.report).then(() => times.push(Date.now()))));

    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(95);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(95);
  });

  it("lets a dispatch go before decoration writes already waiting on the same installation", async () => {
    pacer = new WritePacer(50);
    const order: string[] = [];
    const report = (n: number) => pacer!.acquire("inst-1", PRIORITY.report).then(() => order.push(`report-${n}`));

    const all = [report(1), report(2), report(3)];
    all.push(pacer.acquire("inst-1", PRIORITY.trigger).then(() => order.push("trigger")));
    await Promise.all(all);

    expect(order).toEqual(["trigger", "report-1", "report-2", "report-3"]);
  });

  it("does not make one installation wait for another", async () => {
    pacer = new WritePacer(200);
    await pacer.acquire("inst-1", PRIORITY.report);
    const start = Date.now();

    await pacer.acquire("inst-2", PRIORITY.report);

    expect(Date.now() - start).toBeLessThan(100);
  });
});
