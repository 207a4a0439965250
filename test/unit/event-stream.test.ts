import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { pino } from "pino";
import { HistoryReader } from "../../src/history/history-reader.js";
import { HistoryStore } from "../../src/history/history-store.js";
import type { HistoryRecord } from "../../src/history/record.js";
import { ALL_PUBLIC } from "../../src/trust/privacy.js";
import { EventStream, STREAM_DEFAULTS } from "../../src/web/event-stream.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait-for.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
let redis: TestRedis;
let client: Redis;
let store: HistoryStore;
let stream: EventStream;
let server: Server;
let url: string;

beforeAll(async () => {
  redis = await startTestRedis();
  client = new Redis(redis.url);
  store = new HistoryStore(client);
  // 41 clients from one address: the per-address limit (test/abuse/streams.test.ts) is off here.
  stream = new EventStream(HistoryReader.pair(store, ALL_PUBLIC).public, () => new Redis(redis.url, { maxRetriesPerRequest: null }), "/openci-relay", pino({ level: "silent" }), { ...STREAM_DEFAULTS, perAddress: 0 });
  const handle = stream.handler();
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/events`;
});
afterAll(async () => {
  stream.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  client.disconnect();
  await redis.cleanup();
});

let n = 0;
const append = () => {
  const i = n++;
  const record: HistoryRecord = { v: 1, kind: "gate", at: new Date().toISOString(), upstream: "nova", downstream: `d${i % 7}`, run: `t${i}`, check: "build", decision: "waiting" };
  return store.append(record, { key: `gate|t${i}`, release: { project: "nova", tag: "v1", sha: SHA } });
};

function listen(headers: Record<string, string> = {}) {
  const ids: string[] = [];
  const req = request(url, { headers }, (res) => {
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end; (end = buffer.indexOf("\n\n")) >= 0; buffer = buffer.slice(end + 2)) {
        const id = /^id: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        if (id) ids.push(id);
      }
    });
  });
  req.on("error", () => undefined);
  req.end();
  return { ids, close: () => req.destroy() };
}

describe("the event stream under load", () => {
  it("gives each resuming client every entry after its Last-Event-ID once, in order, while the log keeps growing", async () => {
    for (let i = 0; i < 40; i++) await append();
    const before = await store.logAfter("0", 1000);
    const resumeAt = before[9]!.id;

    const live = listen();
    await new Promise((r) => setTimeout(r, 100));
    const writing = (async () => { for (let i = 0; i < 30; i++) await Promise.all([append(), append(), append(), append(), append()]); })();
    const resumers = Array.from({ length: 40 }, () => listen({ "last-event-id": resumeAt }));
    await writing;
    const all = (await store.logAfter("0", 1000)).map((e) => e.id);
    const expected = all.slice(10);
    await waitFor("every resumer caught up", () => resumers.every((r) => r.ids.length >= expected.length), 15_000);
    await waitFor("the live client caught up", () => live.ids.length >= all.length - 40, 15_000);
    for (const r of [...resumers, live]) r.close();

    for (const r of resumers) expect(r.ids).toEqual(expected);
    expect(live.ids).toEqual(all.slice(40));
  });

  it("refuses an id it never sent, and starts over for one past the end of the log", async () => {
    const bad = await fetch(url, { headers: { "last-event-id": "tomorrow" } });
    const future = listen({ "last-event-id": `${Date.now() + 86_400_000}-0` });
    const total = (await store.logAfter("0", 10_000)).length;
    await waitFor("the whole log replayed", () => future.ids.length >= total);
    future.close();

    expect(bad.status).toBe(400);
    expect(future.ids).toHaveLength(total);
  });
});
