import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { Writable } from "node:stream";
import type { DependencyMap } from "../../src/map/graph.js";
import { Sinks } from "../../src/sinks/sinks.js";
import { TransportPool } from "../../src/sinks/transport-pool.js";

/** The connections kept per subscriber: one each, kept across filter changes, closed when the subscriber goes. */
function pool() {
  const lines: string[] = [];
  const log = pino({ level: "info" }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  return { pool: new TransportPool({ GITLAB_TOKEN: "never-seen" }, log), lines };
}
const sinksOf = (entries: object[]) => new Sinks(entries as never, () => ({ subscribers: () => [] }) as unknown as DependencyMap, {});

describe("the transport pool", () => {
  it("keeps one connection per subscriber, also when only its events or projects change; a new url opens another", async () => {
    const { pool: p } = pool();
    const first = sinksOf([{ id: "firehose", url: "mqtt://127.0.0.1:1" }]).get("firehose")!;
    const filtered = sinksOf([{ id: "firehose", url: "mqtt://127.0.0.1:1", events: ["pipelinerun.finished"], projects: ["nova"] }]).get("firehose")!;
    const moved = sinksOf([{ id: "firehose", url: "mqtt://127.0.0.1:2" }]).get("firehose")!;

    const a = p.broker(first);
    expect(p.broker(filtered)).toBe(a);
    expect(p.broker(moved)).not.toBe(a);
    await p.close();
  });

  it("closes the connection of a subscriber no longer configured, and only that one", async () => {
    const { pool: p, lines } = pool();
    const sinks = sinksOf([{ id: "gone", url: "mqtt://127.0.0.1:1" }, { id: "kept", url: "nats://127.0.0.1:1" }]);
    const kept = p.broker(sinks.get("kept")!);
    p.broker(sinks.get("gone")!);

    p.prune(new Set(["kept"]));

    expect(lines.filter((l) => l.includes("subscriber removed")).map((l) => JSON.parse(l).sink)).toEqual(["gone"]);
    expect(p.broker(sinks.get("kept")!)).toBe(kept);
    await p.close();
  });
});
