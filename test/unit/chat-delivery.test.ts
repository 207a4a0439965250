import { beforeEach, describe, expect, it } from "@jest/globals";
import type { Queue } from "bullmq";
import { pino } from "pino";
import { HistoryReader } from "../../src/history/history-reader.js";
import { HistoryStore } from "../../src/history/history-store.js";
import { Recorder } from "../../src/history/recorder.js";
import { ReleasePlan } from "../../src/history/release-plan.js";
import type { HistoryRecord } from "../../src/history/record.js";
import type { DependencyMap, Project } from "../../src/map/graph.js";
import type { SinkJob, TriggerJob } from "../../src/queue/job-data.js";
import { deliverChat, ReleaseBusyError } from "../../src/sinks/chat/chat-delivery.js";
import { Sinks } from "../../src/sinks/sinks.js";
import type { ChatLine, ChatTransport } from "../../src/sinks/transport.js";
import type { Privacy, PublicFilter } from "../../src/trust/privacy.js";
import { useTestRedisClient } from "../helpers/redis-client.js";

/**
 * What a chat subscriber is told, from a real history on a private Redis: the release's summary
 * once its downstreams have ended, private downstreams left out, each line said once whatever
 * retries and concurrent deliveries do. The chat is a recording ChatTransport (the transports have
 * their own tests against ngIRCd and the fake Matrix).
 */
const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const redis = useTestRedisClient();
const log = pino({ level: "silent" });
beforeEach(async () => {
  await redis().flushdb();
});

/** A chat that records what it is told; `failNext` makes the next say() fail as a lost connection would. */
function chat() {
  const said: ChatLine[] = [];
  let failNext = 0;
  let gate: Promise<void> | undefined;
  const transport: ChatTransport = {
    say: async (line) => {
      if (gate) await gate;
      if (failNext > 0) {
        failNext--;
        throw new Error("connection lost");
      }
      said.push(line);
    },
    close: async () => undefined,
  };
  return { transport, said, failNextSay: () => void failNext++, hold: (p: Promise<void>) => void (gate = p) };
}

function history(privateIds: string[]) {
  const secret = new Set(privateIds);
  const privacy: Privacy & PublicFilter = {
    anyPrivate: async (ids) => ids.some((id) => secret.has(id)),
    hidden: async (ids) => new Set(ids.filter((id) => secret.has(id))),
  };
  const queue = { addBulk: async () => [] } as unknown as Pick<Queue<SinkJob>, "addBulk">;
  const store = new HistoryStore(redis());
  const recorder = new Recorder({ store, privacy, sinks: new Sinks([], () => ({ subscribers: () => [] }) as unknown as DependencyMap, {}), queue, sinkRetryMs: 10, log });
  const readers = HistoryReader.pair(store, privacy);
  return { recorder, store, readers };
}

const upstream = { id: "containerd" } as Project;
const job = (downstreamId: string): TriggerJob => ({
  runId: `run-${downstreamId}`, downstreamId, checkName: `openci: ${downstreamId}`, deliveryId: "d1", enqueuedAt: "2026-12-01T10:00:00.000Z", attempt: 0,
  upstream: { projectId: "containerd", forge: "github", repo: "containerd/containerd", tag: "v2.1.0", sha: SHA },
});
const ended = (conclusion: "success" | "failure") =>
  ({ forge: "github", repo: "o/r", runId: "7", state: "completed", conclusion, url: "https://github.com/o/r/actions/runs/7", source: "workflow_run" }) as const;

/** A release of containerd with these downstreams triggered; returns a function that ends one, giving its record. */
async function release(h: ReturnType<typeof history>, downstreams: string[]) {
  await h.recorder.release({ upstream, forge: "github", repo: "containerd/containerd", tag: "v2.1.0", sha: SHA, source: "push" });
  for (const d of downstreams) await h.recorder.trigger(job(d), "triggered");
  return async (d: string, conclusion: "success" | "failure", failedJobs: string[] = []): Promise<{ cid: string; record: HistoryRecord }> => {
    const cid = (await h.recorder.run(job(d), ended(conclusion), failedJobs)).toString();
    const record = (await h.store.inScope("private").get(cid))!;
    return { cid, record };
  };
}

const deps = (h: ReturnType<typeof history>, reach: "public" | "all" = "public", settleMs = 0) =>
  ({ redis: redis(), reader: h.readers[reach], everything: h.readers.all, publicUrl: "https://relay.example", settleMs });
const sink = (events?: string[]) => ({ id: "channel", events: events ? new Set(events) : undefined });

describe("telling a chat about a release", () => {
  it("says the summary once the last downstream ends, and never again for records after it", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers", "cri-o"]);
    const c = chat();

    const first = await end("kata-containers", "failure", ["unit-tests"]);
    expect(await deliverChat(sink(), first.cid, first.record, c.transport, deps(h), log)).toEqual([]);
    const last = await end("cri-o", "success");
    const said = await deliverChat(sink(), last.cid, last.record, c.transport, deps(h), log);
    // The earlier record delivered again (a retry, a redrive): nothing new.
    await deliverChat(sink(), first.cid, first.record, c.transport, deps(h), log);
    await deliverChat(sink(), last.cid, last.record, c.transport, deps(h), log);

    expect(said).toEqual(["containerd v2.1.0: 1 of 2 downstreams passed · kata-containers failed (unit-tests) https://relay.example/releases/containerd/v2.1.0"]);
    expect(c.said.map((l) => l.text)).toEqual(said);
  });

  it("leaves a private downstream out of a public chat's summary, and a private chat sees it", async () => {
    const h = history(["acme-secret"]);
    const end = await release(h, ["kata-containers", "acme-secret"]);
    const open = chat();
    const trusted = chat();

    await end("acme-secret", "failure", ["internal-suite"]);
    const last = await end("kata-containers", "success");
    await deliverChat(sink(), last.cid, last.record, open.transport, deps(h, "public"), log);
    await deliverChat({ id: "trusted", events: undefined }, last.cid, last.record, trusted.transport, deps(h, "all"), log);

    expect(open.said.map((l) => l.text)).toEqual(["containerd v2.1.0: its downstream passed https://relay.example/releases/containerd/v2.1.0"]);
    expect(open.said.map((l) => l.text + l.html).join()).not.toMatch(/acme|secret|internal/);
    expect(trusted.said.map((l) => l.text)).toEqual([
      "containerd v2.1.0: 1 of 2 downstreams passed · acme-secret failed (internal-suite) https://relay.example/releases/containerd/v2.1.0",
    ]);
  });

  it("two deliveries at once: one tells, the other waits (no attempt spent) and then finds nothing left to say", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers", "cri-o"]);
    const c = chat();
    const a = await end("kata-containers", "failure");
    const b = await end("cri-o", "failure");
    let open!: () => void;
    c.hold(new Promise<void>((r) => (open = r)));

    const telling = deliverChat(sink(["releases", "failures"]), b.cid, b.record, c.transport, deps(h), log);
    await new Promise((r) => setTimeout(r, 50));
    const busy = await deliverChat(sink(["releases", "failures"]), a.cid, a.record, c.transport, deps(h), log).catch((e: unknown) => e);
    open();
    await telling;
    const retried = await deliverChat(sink(["releases", "failures"]), a.cid, a.record, c.transport, deps(h), log);

    expect(busy).toBeInstanceOf(ReleaseBusyError);
    expect((busy as ReleaseBusyError).holdMs).toBeGreaterThan(0);
    // b ended the release: its failure, then the summary naming both; a's failure is in the summary, not said again.
    expect(c.said.map((l) => l.key)).toEqual([`failure|${b.cid}`, expect.stringMatching(/^summary\|/)]);
    expect(retried).toEqual([]);
  });

  it("a line the chat did not take is said on the retry, and only the lines not said before", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers"]);
    const c = chat();
    const last = await end("kata-containers", "failure", ["e2e"]);
    c.failNextSay();

    await expect(deliverChat(sink(["releases", "failures"]), last.cid, last.record, c.transport, deps(h), log)).rejects.toThrow("connection lost");
    const retried = await deliverChat(sink(["releases", "failures"]), last.cid, last.record, c.transport, deps(h), log);

    expect(retried).toEqual([
      "containerd v2.1.0: kata-containers failed (e2e) https://relay.example/releases/containerd/v2.1.0",
      "containerd v2.1.0: 0 of 1 downstream passed · kata-containers failed (e2e) https://relay.example/releases/containerd/v2.1.0",
    ]);
    expect(c.said).toHaveLength(2);
  });

  it("waits for every downstream the release was handed to, also one whose trigger has not run yet (its plan)", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers"]);
    // cri-o's trigger is queued (planned) but has written nothing yet: held back by a rate limit, say.
    await new ReleasePlan(redis()).add("containerd", "v2.1.0", SHA, ["kata-containers", "cri-o"]);
    const c = chat();

    const kata = await end("kata-containers", "success");
    const early = await deliverChat(sink(), kata.cid, kata.record, c.transport, deps(h), log);
    await h.recorder.trigger(job("cri-o"), "triggered");
    const crio = await end("cri-o", "success");
    const last = await deliverChat(sink(), crio.cid, crio.record, c.transport, deps(h), log);

    expect(early).toEqual([]);
    expect(last).toEqual(["containerd v2.1.0: all 2 downstreams passed https://relay.example/releases/containerd/v2.1.0"]);
  });

  it("a summary waits a moment once the release looks ended (a cascade may be planned): held without spending an attempt, then said", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers"]);
    const c = chat();
    const kata = await end("kata-containers", "success");

    const held = await deliverChat(sink(), kata.cid, kata.record, c.transport, deps(h, "public", 50), log).catch((e: unknown) => e);
    const said = await deliverChat(sink(), kata.cid, kata.record, c.transport, deps(h, "public", 50), log);

    expect(held).toBeInstanceOf(ReleaseBusyError);
    expect((held as ReleaseBusyError).holdMs).toBe(50);
    expect(said).toEqual(["containerd v2.1.0: its downstream passed https://relay.example/releases/containerd/v2.1.0"]);
  });

  it("a cascade planned while the summary settles makes it wait for the cascaded downstream", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers"]);
    const c = chat();
    const kata = await end("kata-containers", "success");

    await deliverChat(sink(), kata.cid, kata.record, c.transport, deps(h, "public", 50), log).catch(() => undefined);
    await new ReleasePlan(redis()).add("containerd", "v2.1.0", SHA, ["k3s"]);
    const after = await deliverChat(sink(), kata.cid, kata.record, c.transport, deps(h, "public", 50), log);

    expect(after).toEqual([]);
    expect(c.said).toEqual([]);
  });

  it("a chat's projects are matched against the release: its upstream or any of its downstreams", async () => {
    const h = history([]);
    const end = await release(h, ["kata-containers", "cri-o"]);
    await end("kata-containers", "success");
    const last = await end("cri-o", "failure");
    const kata = chat();
    const other = chat();

    await deliverChat({ ...sink(), projects: new Set(["kata-containers"]) }, last.cid, last.record, kata.transport, deps(h), log);
    await deliverChat({ ...sink(), id: "other", projects: new Set(["nova"]) }, last.cid, last.record, other.transport, deps(h), log);

    expect(kata.said.map((l) => l.text)).toEqual(["containerd v2.1.0: 1 of 2 downstreams passed · cri-o failed https://relay.example/releases/containerd/v2.1.0"]);
    expect(other.said).toEqual([]);
  });
});
