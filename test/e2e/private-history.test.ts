import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { main } from "../../src/cli/main.js";
import { verifyCar } from "../../src/history/car.js";
import { cidOf, encode } from "../../src/history/cid.js";
import { HistoryReader } from "../../src/history/history-reader.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { Recorder } from "../../src/history/recorder.js";
import { parseMap } from "../../src/map/load.js";
import type { Queues } from "../../src/queue/queues.js";
import type { TriggerJob } from "../../src/queue/job-data.js";
import { Sinks } from "../../src/sinks/sinks.js";
import type { Privacy, PublicFilter } from "../../src/trust/privacy.js";
import { dashboard } from "../../src/web/dashboard/routes.js";
import { EventStreams } from "../../src/web/event-stream.js";
import { historyApi } from "../../src/web/history-api.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { waitFor } from "../helpers/wait-for.js";

const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const READ_TOKEN = "read-token-0123456789";
const ADMIN_TOKEN = "admin-token-0123456789";
/** The private downstream: neither its id, its repository nor its run may show on a public surface. */
const HUSH = /hush/i;
const HUSH_RUN = "https://github.com/acme/hush-app/actions/runs/77";
const MAP = parseMap(`version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - { id: nova, foundation: lf, github: openstack/nova }
  - { id: kolla, foundation: lf, github: openstack/kolla, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: nova }] }
  - { id: hush-app, foundation: lf, github: acme/hush-app, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: nova }] }
`);

/** The worker's word (hush-app is private) and the web's (hidden now: hush-app, and whatever a test turns private since). */
const privateIds = new Set(["hush-app"]);
const hiddenIds = new Set(["hush-app"]);
const privacy: Privacy = { anyPrivate: async (ids) => ids.some((id) => privateIds.has(id)) };
const filter: PublicFilter = { hidden: async (ids) => new Set(ids.filter((id) => hiddenIds.has(id))) };

let redis: TestRedis;
let client: Redis;
let server: Server;
let streams: EventStreams;
let url: string;

beforeAll(async () => {
  redis = await startTestRedis();
  client = new Redis(redis.url);
  const store = new HistoryStore(client);
  const access = { readers: HistoryReader.pair(store, filter), tokens: { readToken: READ_TOKEN, adminToken: ADMIN_TOKEN } };
  const log = pino({ level: "silent" });
  streams = new EventStreams(access.readers, () => new Redis(redis.url, { maxRetriesPerRequest: null }), "/openci-relay", log, access.tokens);
  const queues = { trigger: { getJobs: async () => [], getJobCounts: async () => ({}) } } as unknown as Pick<Queues, "trigger">;
  const handlers = [streams.handler(), historyApi(access, () => MAP), dashboard({ access, map: () => MAP, queues, log })];
  server = createServer((req, res) => void (async () => {
    for (const h of handlers) if (await h(req, res)) return;
    res.writeHead(404).end();
  })());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await recordRelease(new Recorder({ store, privacy, sinks: new Sinks([], () => MAP, {}), queue: { addBulk: async () => [] }, sinkRetryMs: 10, log }));
});
afterAll(async () => {
  streams.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  client.disconnect();
  await redis.cleanup();
});

/** nova v1 triggers kolla (passes) and hush-app (private: fails, with a failing job and an artifact). */
async function recordRelease(r: Recorder) {
  await r.release({ upstream: MAP.project("nova")!, forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA, source: "push" });
  const job = (downstreamId: string): TriggerJob => ({
    runId: `run-${downstreamId}`, downstreamId, checkName: `openci: ${downstreamId}`, deliveryId: "d1", enqueuedAt: "2026-12-01T10:00:00.000Z", attempt: 0,
    upstream: { projectId: "nova", forge: "github", repo: "openstack/nova", tag: "v1", sha: SHA },
  });
  const kollaRun = "https://github.com/openstack/kolla/actions/runs/76";
  await r.trigger(job("kolla"), "triggered", { result: { kind: "workflow_dispatch", runId: "76", webUrl: kollaRun } });
  await r.run(job("kolla"), { forge: "github", repo: "openstack/kolla", runId: "76", state: "completed", conclusion: "success", url: kollaRun, source: "workflow_run" });
  await r.trigger(job("hush-app"), "triggered", { result: { kind: "workflow_dispatch", runId: "77", webUrl: HUSH_RUN } });
  await r.run(job("hush-app"), { forge: "github", repo: "acme/hush-app", runId: "77", state: "completed", conclusion: "failure", url: HUSH_RUN, source: "workflow_run" },
    ["hush unit tests"], [{ name: "hush-logs", url: "https://github.com/acme/hush-app/actions/runs/77/artifacts/1" }]);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { headers, redirect: "manual" });
  return { status: res.status, text: Buffer.from(await res.arrayBuffer()).toString("latin1"), headers: res.headers };
}

/** The event stream replayed from its start: the events (data lines) that come within a moment. */
async function replay(headers: Record<string, string> = {}): Promise<string[]> {
  const stop = new AbortController();
  const res = await fetch(`${url}/api/v1/events?lastEventId=0-0`, { headers, signal: stop.signal });
  let text = "";
  const reading = (async () => {
    try {
      for await (const chunk of res.body!) text += Buffer.from(chunk).toString("utf8");
    } catch { /* aborted */ }
  })();
  await waitFor("the replay to begin", () => text.includes("data: "));
  // The replay has ended when the stream sends nothing more between two looks (it stays open for live events).
  let seen = -1;
  await waitFor("the replay to end", async () => {
    const now = text.length;
    if (now === seen) return true;
    seen = now;
    await new Promise((r) => setTimeout(r, 200));
    return false;
  });
  stop.abort();
  await reading;
  return text.split("\n").filter((l) => l.startsWith("data: "));
}

/** Every public surface, fetched without a token. */
async function publicSurfaces(): Promise<Record<string, string>> {
  const paths = [
    "/api/v1/releases/nova/v1", `/api/v1/commits/nova/${SHA}`, "/api/v1/projects/nova/history", "/api/v1/history.car",
    "/", "/now", "/projects", "/projects/nova", "/releases/nova/v1",
  ];
  const answers: Record<string, string> = {};
  for (const p of paths) answers[p] = (await get(p)).text;
  answers["/api/v1/events"] = (await replay()).join("\n");
  return answers;
}

describe("the history's public surfaces", () => {
  it("show nothing of a private downstream without a token, and count it on the release", async () => {
    const surfaces = await publicSurfaces();
    const release = JSON.parse(surfaces["/api/v1/releases/nova/v1"]!);

    for (const [path, text] of Object.entries(surfaces)) {
      expect([path, HUSH.test(text)]).toEqual([path, false]);
      expect([path, text.includes(HUSH_RUN)]).toEqual([path, false]);
    }
    expect(release.downstreams.map((d: any) => [d.project, d.status])).toEqual([["kolla", "passed"]]);
    expect(release.private_downstreams).toBe(1);
    expect(surfaces["/releases/nova/v1"]).toContain("and 1 private downstream (not shown)");
    expect(surfaces["/"]).toContain('href="/login"');
    expect(surfaces["/api/v1/events"]!.split("\n")).toHaveLength(3);
  });

  it("answer a private record and a hidden project exactly as an unknown one", async () => {
    const everything = JSON.parse((await get("/api/v1/releases/nova/v1", bearer(READ_TOKEN))).text);
    const privateCid = everything.downstreams.find((d: any) => d.project === "hush-app").cid;
    const unknownCid = (await cidOf(encode({ nothing: "here" }))).toString();

    const record = await get(`/api/v1/records/${privateCid}`);
    const unknown = await get(`/api/v1/records/${unknownCid}`);
    const hiddenHistory = await get("/api/v1/projects/hush-app/history");
    const unknownHistory = await get("/api/v1/projects/nobody/history");
    const hiddenPage = await get("/projects/hush-app");
    const unknownPage = await get("/projects/nobody");

    expect([record.status, record.text.replace(privateCid, "CID")]).toEqual([unknown.status, unknown.text.replace(unknownCid, "CID")]);
    expect(record.status).toBe(404);
    expect([hiddenHistory.status, hiddenHistory.text.replace("hush-app", "ID")]).toEqual([404, unknownHistory.text.replace("nobody", "ID")]);
    expect([hiddenPage.status, hiddenPage.text.replace(/hush-app/g, "ID")]).toEqual([404, unknownPage.text.replace(/nobody/g, "ID")]);
  });

  it("show everything with the read token or the admin token, and refuse a wrong token with 401", async () => {
    const withRead = JSON.parse((await get("/api/v1/releases/nova/v1", bearer(READ_TOKEN))).text);
    const withAdmin = await get("/api/v1/releases/nova/v1", { authorization: `Basic ${Buffer.from(`any:${ADMIN_TOKEN}`).toString("base64")}` });
    const page = await get("/releases/nova/v1", bearer(READ_TOKEN));
    const events = await replay(bearer(READ_TOKEN));
    const wrong = bearer("not-the-token-0123456789");

    expect(withRead.downstreams.find((d: any) => d.project === "hush-app")).toMatchObject({
      status: "failed", conclusion: "failure", url: HUSH_RUN, failedJobs: ["hush unit tests"],
    });
    expect(withRead.private_downstreams).toBe(0);
    expect(withAdmin.status).toBe(200);
    expect(page.text).toContain(HUSH_RUN);
    expect(page.text).toContain("signed in: private projects shown");
    expect(events.filter((e) => HUSH.test(e))).toHaveLength(3);
    expect(events).toHaveLength(6);
    for (const path of ["/api/v1/releases/nova/v1", "/api/v1/records/x", "/api/v1/history.car", "/api/v1/events", "/", "/releases/nova/v1"]) {
      const refused = await get(path, wrong);
      expect([path, refused.status, HUSH.test(refused.text)]).toEqual([path, 401, false]);
      expect(refused.headers.get("www-authenticate")).toContain("Basic");
    }
  });

  it("sign a browser in at /login: a challenge until the token is given, then back to the dashboard", async () => {
    const anonymous = await get("/login");
    const wrong = await get("/login", { authorization: `Basic ${Buffer.from("me:nope-nope-nope-nope").toString("base64")}` });
    const right = await get("/login", { authorization: `Basic ${Buffer.from(`me:${READ_TOKEN}`).toString("base64")}` });

    expect([anonymous.status, anonymous.headers.get("www-authenticate")]).toEqual([401, 'Basic realm="OpenCI Relay", charset="UTF-8"']);
    expect(anonymous.text).toContain("OPENCI_READ_TOKEN");
    expect(wrong.status).toBe(401);
    expect([right.status, right.headers.get("location")]).toEqual([303, "/"]);
  });

  it("export a public CAR that verifies on its own, and every record only with the token and ?private=1", async () => {
    const publicCar = await fetch(`${url}/api/v1/history.car`).then(async (r) => new Uint8Array(await r.arrayBuffer()));
    const asked = await get("/api/v1/history.car?private=1");
    const fullCar = await fetch(`${url}/api/v1/history.car?private=1`, { headers: bearer(READ_TOKEN) }).then(async (r) => new Uint8Array(await r.arrayBuffer()));

    expect(HUSH.test(Buffer.from(publicCar).toString("latin1"))).toBe(false);
    expect(await verifyCar(once(publicCar))).toMatchObject({ blocks: 3 + 2, tampered: [], missing: [], unlisted: [], outside: 0 });
    expect(asked.status).toBe(401);
    expect(HUSH.test(Buffer.from(fullCar).toString("latin1"))).toBe(true);
    expect(await verifyCar(once(fullCar))).toMatchObject({ blocks: 6 + 2, tampered: [], missing: [], unlisted: [] });
  });
});

describe("openci-relay export --private", () => {
  it("sends the read token from the environment, and says what to set when it is missing or wrong", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-private-"));
    const run = async (args: string[], env: Record<string, string>) => {
      const err: string[] = [];
      const code = await main(["export", ...args, "--url", url], env, () => {}, (s) => err.push(s));
      return { code, err: err.join("") };
    };

    const everything = await run(["--private", "--output", join(dir, "all.car")], { OPENCI_READ_TOKEN: READ_TOKEN });
    const named = await run(["--private", "--token-env", "MY_TOKEN", "--output", join(dir, "named.car")], { MY_TOKEN: ADMIN_TOKEN });
    const publicOnly = await run(["--output", join(dir, "public.car")], { OPENCI_READ_TOKEN: READ_TOKEN });
    const missing = await run(["--private"], {});
    const missingNamed = await run(["--private", "--token-env", "MY_TOKEN"], {});
    const wrong = await run(["--private"], { OPENCI_READ_TOKEN: "not-the-token-0123456789" });
    const alone = await run(["--token-env", "MY_TOKEN"], { MY_TOKEN: READ_TOKEN });

    expect(everything).toEqual({ code: 0, err: expect.stringContaining("exported 6 public and private records") });
    expect(HUSH.test(readFileSync(join(dir, "all.car"), "latin1"))).toBe(true);
    expect(named.code).toBe(0);
    expect(publicOnly).toEqual({ code: 0, err: expect.stringContaining("exported 3 records") });
    expect(HUSH.test(readFileSync(join(dir, "public.car"), "latin1"))).toBe(false);
    expect(missing).toEqual({ code: 2, err: expect.stringContaining("set OPENCI_READ_TOKEN") });
    expect(missingNamed).toEqual({ code: 2, err: expect.stringContaining("set MY_TOKEN") });
    expect(wrong).toEqual({ code: 1, err: expect.stringContaining("the relay refused the token in OPENCI_READ_TOKEN (401)") });
    expect(alone.code).toBe(2);
  });
});

describe("a project turned private since", () => {
  it("leaves every public answer from then on, counted on the release, and comes back when public again", async () => {
    hiddenIds.add("kolla");
    const surfaces = await publicSurfaces();
    const release = JSON.parse(surfaces["/api/v1/releases/nova/v1"]!);
    const history = await get("/api/v1/projects/kolla/history");
    const car = await fetch(`${url}/api/v1/history.car`).then(async (r) => new Uint8Array(await r.arrayBuffer()));
    hiddenIds.delete("kolla");
    const again = JSON.parse((await get("/api/v1/releases/nova/v1")).text);

    for (const [path, text] of Object.entries(surfaces)) expect([path, /kolla|hush/i.test(text)]).toEqual([path, false]);
    expect(release).toMatchObject({ downstreams: [], private_downstreams: 2 });
    expect(surfaces["/releases/nova/v1"]).toContain("and 2 private downstreams (not shown)");
    expect(history.status).toBe(404);
    expect(history.text).toBe(JSON.stringify({ error: "no project 'kolla' in the dependency map or the history" }));
    expect(await verifyCar(once(car))).toMatchObject({ blocks: 1 + 2, tampered: [], missing: [], unlisted: [] });
    expect(again.downstreams.map((d: any) => d.project)).toEqual(["kolla"]);
  });
});

async function* once(bytes: Uint8Array) {
  yield bytes;
}
