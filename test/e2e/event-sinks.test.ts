import { afterEach, describe, expect, it } from "@jest/globals";
import { createHmac } from "node:crypto";
import { request } from "node:http";
import { main } from "../../src/cli/main.js";
import { hellosDependantsMap, hellosDependantsRepos, releaseWithAFailure } from "../helpers/history.js";
import { cdeventProblems } from "../helpers/cdevents.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { startSinkServer } from "../helpers/sink-server.js";
import { waitFor } from "../helpers/wait-for.js";

const SECRET = "sink-secret-0123456789";
const ADMIN = "admin-token-0123456789";
const MAP = hellosDependantsMap;
const repos = hellosDependantsRepos;
const startHarness = useHarness();
const sinks: Awaited<ReturnType<typeof startSinkServer>>[] = [];
afterEach(async () => {
  for (const s of sinks.splice(0)) await s.stop();
});
const sinkServer = async (status?: () => number) => {
  const s = await startSinkServer(status);
  sinks.push(s);
  return s;
};

const flow = async (h: Harness) => (await releaseWithAFailure(h)).cids;

describe("CDEvents to subscribers", () => {
  it("delivers every record as a signed, valid CDEvent in a CloudEvents envelope", async () => {
    const sink = await sinkServer();
    const h = await startHarness({ map: MAP(), repos: repos(), env: { OPENCI_SINKS: JSON.stringify([{ id: "ops", url: sink.url, secret: SECRET }]), OPENCI_PUBLIC_URL: "https://openci.example.org" } });

    const cids = await flow(h);
    await waitFor("every record delivered", () => sink.accepted().length >= cids.length);
    await h.idle({ watch: [sink] });
    const events = sink.deliveries.map((d) => ({ d, event: JSON.parse(d.body) }));

    expect(events.map((e) => e.event.context.id).sort()).toEqual([...cids].sort());
    for (const { d, event } of events) {
      expect(cdeventProblems(event)).toEqual([]);
      const timestamp = Number(d.headers["x-openci-timestamp"]);
      expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(60);
      expect(d.headers["x-openci-signature-256"]).toBe(`sha256=${createHmac("sha256", SECRET).update(`${timestamp}.${d.body}`).digest("hex")}`);
      expect(d.headers).toMatchObject({ "ce-specversion": "1.0", "ce-id": event.context.id, "ce-type": event.context.type, "ce-source": "https://openci.example.org", "ce-subject": event.subject.id });
    }
    const types = events.map((e) => e.event.context.type);
    expect(types).toEqual(expect.arrayContaining([
      "dev.cdevents.artifact.published.0.3.0", "dev.cdevents.pipelinerun.queued.0.3.0",
      "dev.cdevents.pipelinerun.finished.0.3.0", "dev.cdevents.testoutput.published.0.3.0",
    ]));
    const finished = events.filter((e) => e.event.context.type === "dev.cdevents.pipelinerun.finished.0.3.0").map((e) => [e.event.subject.content.pipelineName, e.event.subject.content.outcome]);
    expect(finished.sort()).toEqual([["acme/app", "success"], ["octo", "failure"]]);
    expect(new Set(events.map((e) => e.event.context.chainId))).toEqual(new Set([cids[0]]));
  });

  it("sends a map subscriber only the events and projects it asked for", async () => {
    const sink = await sinkServer();
    const subscribers = `subscribers:\n  - { id: octo-watch, url: "${sink.url}", secret_env: OCTO_SINK_SECRET, events: [pipelinerun.finished], projects: [octo] }\n`;
    const h = await startHarness({ map: MAP(subscribers), repos: repos(), env: { OCTO_SINK_SECRET: SECRET } });

    await flow(h);
    await waitFor("octo's finished run delivered", () => sink.accepted().length >= 1);
    await h.idle({ watch: [sink] });

    expect(sink.deliveries.map((d) => JSON.parse(d.body).subject.content)).toEqual([{ pipelineName: "octo", uri: expect.any(String), outcome: "failure", errors: "failing jobs: unit tests" }]);
  });

  it("retries a failing sink, dead-letters after its attempts, and re-drives the dead letters from the CLI without losing one", async () => {
    let up = false;
    const sink = await sinkServer(() => (up ? 202 : 503));
    const h = await startHarness({
      map: MAP(), repos: repos(),
      env: { OPENCI_SINKS: JSON.stringify([{ id: "flaky", url: sink.url, secret: SECRET, attempts: 2 }]), OPENCI_SINK_RETRY_MS: "50", OPENCI_ADMIN_TOKEN: ADMIN },
    });
    const cids = await flow(h);
    const env = { OPENCI_ADMIN_TOKEN: ADMIN, OPENCI_URL: h.url };
    const out: string[] = [];

    const listed = await waitFor("every event dead-lettered", async () => {
      const res = await fetch(`${h.url}/api/v1/sinks`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = (await res.json()) as any;
      return body.sinks[0].dead.length === cids.length ? body.sinks[0] : undefined;
    }, 20_000);
    expect(await main(["sinks"], env, (s) => out.push(s), () => {})).toBe(0);

    expect(listed.counts).toEqual({ delivered: 0, failedAttempts: cids.length * 2, deadLettered: cids.length });
    expect(sink.deliveries).toHaveLength(cids.length * 2);
    expect(out.join("")).toContain(`dead letters ${cids.length}`);
    expect(out.join("")).toContain("after 2 attempts");

    up = true;
    out.length = 0;
    expect(await main(["sinks", "redrive", "--sink", "flaky"], env, (s) => out.push(s), () => {})).toBe(0);
    await waitFor("every dead letter delivered", () => sink.accepted().length === cids.length, 20_000);

    expect(out.join("")).toBe(`re-driven: ${cids.length} dead letter(s)\n`);
    expect(sink.accepted().map((d) => JSON.parse(d.body).context.id).sort()).toEqual([...cids].sort());
    const after = (await (await fetch(`${h.url}/api/v1/sinks`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as any;
    expect(after.sinks[0]).toMatchObject({ dead: [], counts: { delivered: cids.length } });
    expect((await fetch(`${h.url}/api/v1/sinks`)).status).toBe(401);
    expect(await main(["sinks", "redrive", "--sink", "nobody"], env, () => {}, () => {})).toBe(1);
  });
});

/** Opens the relay's event stream; `events` fills as Server-Sent Events arrive. */
function openStream(url: string, headers: Record<string, string> = {}) {
  const events: { id: string; data: any }[] = [];
  let status = 0;
  const req = request(url, { headers: { accept: "text/event-stream", ...headers } }, (res) => {
    status = res.statusCode ?? 0;
    let buffer = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end; (end = buffer.indexOf("\n\n")) >= 0;) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id && data) events.push({ id, data: JSON.parse(data) });
      }
    });
  });
  req.on("error", () => undefined);
  req.end();
  return { events, status: () => status, close: () => req.destroy() };
}

describe("the live event stream (GET /api/v1/events)", () => {
  it("streams each record as it is appended, and resumes after Last-Event-ID", async () => {
    const h = await startHarness({ map: MAP(), repos: repos() });
    const live = openStream(`${h.url}/api/v1/events`);
    await waitFor("the stream open", () => live.status() === 200);

    const cids = await flow(h);
    await waitFor("every record streamed", () => live.events.length >= cids.length);
    // the stream is a listener too: nothing more on it for a moment
    await h.idle({ watch: [() => live.events.length] });
    live.close();
    const seen = live.events;
    const resumed = openStream(`${h.url}/api/v1/events`, { "last-event-id": seen[2]!.id });
    await waitFor("the rest replayed", () => resumed.events.length >= seen.length - 3);
    await h.idle({ watch: [() => resumed.events.length] });
    resumed.close();
    const octoOnly = openStream(`${h.url}/api/v1/events?project=octo&lastEventId=0-0`);
    await waitFor("octo's failure replayed", () => octoOnly.events.some((e) => e.data.data.subject.content.outcome === "failure"));
    octoOnly.close();

    expect(seen.map((e) => e.data.id).sort()).toEqual([...cids].sort());
    for (const e of seen) {
      expect(e.data).toMatchObject({ specversion: "1.0", id: e.data.data.context.id, type: e.data.data.context.type, subject: e.data.data.subject.id });
      expect(cdeventProblems(e.data.data)).toEqual([]);
    }
    expect(resumed.events.map((e) => e.id)).toEqual(seen.slice(3).map((e) => e.id));
    expect(octoOnly.events.length).toBeGreaterThan(0);
    expect(octoOnly.events.every((e) => [e.data.data.customData.downstream, e.data.data.customData.project].includes("octo"))).toBe(true);
    const bad = await fetch(`${h.url}/api/v1/events`, { headers: { "last-event-id": "yesterday" } });
    expect(bad.status).toBe(400);
  });
});
