import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import mqtt from "mqtt";
import { Connection, type SyncMessage } from "rabbitmq-client";
import { FakeMatrix } from "../fakes/matrix/fake-matrix.js";
import { hellosDependantsMap, hellosDependantsRepos, releaseWithAFailure } from "../helpers/history.js";
import { ircListener, startIrcd, type IrcListener, type TestIrcd } from "../helpers/ircd.js";
import { startMosquitto, type Mosquitto } from "../helpers/mosquitto.js";
import { startNatsServer, type TestNatsServer } from "../helpers/nats-server.js";
import { startRabbitmq, type TestRabbitmq } from "../helpers/rabbitmq.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * The relay's events to where the communities listen, end to end: a real Mosquitto, nats-server
 * (JetStream), RabbitMQ and ngIRCd, each private to this file on a free port, and a fake Matrix
 * homeserver. Each broker gets every record once (at least once across a broker's crash, and NATS
 * exactly once by its message id); IRC and Matrix get the release's one summary line.
 */
const PUBLIC = "https://openci.example.org";
const CHANNEL = "openci-test";
const MATRIX_TOKEN = "matrix-token-for-the-relay";
const startHarness = useHarness();

let mosquitto: Mosquitto;
let nats: TestNatsServer;
let rabbit: TestRabbitmq;
let ircd: TestIrcd;
let matrix: FakeMatrix;
let roomId: string;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [mosquitto, nats, rabbit, ircd] = await Promise.all([startMosquitto(), startNatsServer(), startRabbitmq(), startIrcd()]);
  matrix = await FakeMatrix.start({ serverName: "fake.test", users: [{ userId: "@openci:fake.test", token: MATRIX_TOKEN }] });
  roomId = matrix.addRoom({ alias: "#releases:fake.test", public: true });
}, 60_000);
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});
afterAll(async () => {
  await Promise.all([mosquitto?.stop(), nats?.stop(), rabbit?.stop(), ircd?.stop(), matrix?.stop()]);
});

const sinks = (o: { attempts?: number } = {}) => [
  { id: "firehose", url: mosquitto.url, ...o },
  { id: "bus", url: nats.url, ...o },
  { id: "fedora", url: rabbit.url, username_env: "RABBIT_USER", password_env: "RABBIT_PASSWORD", ...o },
  { id: "channel", url: `irc://127.0.0.1:${ircd.port}/${CHANNEL}`, nick: "openci-relay", events: ["releases", "failures"] },
  { id: "room", matrix: { homeserver: matrix.url, room: "#releases:fake.test", token_env: "RELAY_MATRIX_TOKEN" } },
];
const env = (o: { attempts?: number; retryMs?: number } = {}) => ({
  OPENCI_SINKS: JSON.stringify(sinks(o.attempts ? { attempts: o.attempts } : {})),
  OPENCI_PUBLIC_URL: PUBLIC,
  OPENCI_SINK_RETRY_MS: String(o.retryMs ?? 200),
  RABBIT_USER: "guest", RABBIT_PASSWORD: "guest",
  RELAY_MATRIX_TOKEN: MATRIX_TOKEN,
});

/** The test's own MQTT 5 subscriber to everything under openci/, a persistent session that outlives a broker crash. */
async function mqttListener(): Promise<{ got: { topic: string; id: string }[] }> {
  const client = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5, clientId: `listener-${Date.now()}`, clean: false, reconnectPeriod: 200, properties: { sessionExpiryInterval: 600 } });
  client.on("error", () => undefined); // a broker killed on purpose: mqtt.js reconnects
  closers.push(() => client.endAsync(true));
  const got: { topic: string; id: string }[] = [];
  client.on("message", (topic, _payload, packet) => got.push({ topic, id: String(packet.properties?.userProperties?.id) }));
  await client.subscribeAsync("openci/#", { qos: 1 });
  return { got };
}

/** A durable queue bound to the relay's exchange (declared as the relay declares it) before anything is published. */
async function amqpQueue(): Promise<{ drain(): Promise<SyncMessage[]> }> {
  const c = new Connection({ url: rabbit.guestUrl, retryLow: 100, retryHigh: 500 });
  c.on("error", () => undefined); // a broker killed on purpose: the client reconnects
  closers.push(() => c.close());
  const queue = `q-${Date.now()}`;
  await c.exchangeDeclare({ exchange: "openci", type: "topic", durable: true });
  await c.queueDeclare({ queue, durable: true });
  await c.queueBind({ queue, exchange: "openci", routingKey: "openci.#" });
  const got: SyncMessage[] = [];
  return {
    drain: async () => {
      for (let m = await c.basicGet({ queue, noAck: true }); m; m = await c.basicGet({ queue, noAck: true })) got.push(m);
      return got;
    },
  };
}

/** Every message JetStream's OPENCI stream holds now, by an ordered consumer of the test's own. */
async function natsMessages(): Promise<{ subject: string; id: string }[]> {
  const nc: NatsConnection = await natsConnect({ servers: `127.0.0.1:${nats.port}` });
  try {
    const jsm = await jetstreamManager(nc);
    const count = (await jsm.streams.info("OPENCI").catch(() => undefined))?.state.messages ?? 0;
    if (count === 0) return [];
    const consumer = await jetstream(nc).consumers.get("OPENCI");
    const out: { subject: string; id: string }[] = [];
    while (out.length < count) {
      const m = await consumer.next({ expires: 2000 });
      if (!m) break;
      out.push({ subject: m.subject, id: m.headers?.get("ce-id") ?? "" });
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function channelListener(): Promise<IrcListener> {
  const l = await ircListener({ host: ircd.host, port: ircd.port }, { nick: `watcher${Date.now() % 10_000}`, channel: `#${CHANNEL}` });
  closers.push(() => l.close());
  return l;
}

const fromRelay = (l: IrcListener) => l.messages.filter((m) => m.from.startsWith("openci-relay")).map((m) => m.text);
const count = (ids: string[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());

async function sinkCounts(h: Harness): Promise<Record<string, { delivered: number; deadLettered: number; dead: number }>> {
  const res = await fetch(`${h.url}/api/v1/sinks`, { headers: { authorization: "Bearer admin-token-for-the-sinks-test" } });
  const body = (await res.json()) as { sinks: { id: string; counts: { delivered: number; deadLettered: number }; dead: unknown[] }[] };
  return Object.fromEntries(body.sinks.map((s) => [s.id, { delivered: s.counts.delivered, deadLettered: s.counts.deadLettered, dead: s.dead.length }]));
}

describe("subscribers on brokers and in chats", () => {
  it("a release with a failure: every CDEvent to MQTT, NATS and AMQP once each, one summary line to IRC and to Matrix", async () => {
    const [mq, queue, irc] = await Promise.all([mqttListener(), amqpQueue(), channelListener()]);
    const natsBefore = (await natsMessages()).length;
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { ...env(), OPENCI_ADMIN_TOKEN: "admin-token-for-the-sinks-test" } });

    const { cids } = await releaseWithAFailure(h);
    await waitFor("every record on every broker", async () => mq.got.length >= cids.length && (await queue.drain()).length >= cids.length, 20_000);
    const summary = `hello simple-tag: 1 of 2 downstreams passed · octo failed (unit tests) ${PUBLIC}/releases/hello/simple-tag`;
    await waitFor("the summary on IRC", () => fromRelay(irc).includes(summary), 20_000);
    await h.idle();

    // MQTT: one message per record, on openci/{foundation}/{project}/{event}.
    expect([...count(mq.got.map((m) => m.id)).entries()].sort()).toEqual(cids.map((c) => [c, 1]).sort());
    expect(mq.got.map((m) => m.topic)).toEqual(expect.arrayContaining(["openci/lf/hello/artifact.published", "openci/lf/octo/pipelinerun.finished"]));
    // AMQP: persistent, the CID as message id, routed by openci.{foundation}.{project}.{event}.
    const amqp = await queue.drain();
    expect(amqp.map((m) => m.messageId).sort()).toEqual([...cids].sort());
    expect(amqp.every((m) => m.durable)).toBe(true);
    expect(amqp.map((m) => m.routingKey)).toEqual(expect.arrayContaining(["openci.lf.octo.pipelinerun.finished", "openci.lf.hello.artifact.published"]));
    // NATS: JetStream holds each once, on openci.{foundation}.{project}.{event}.
    const js = (await natsMessages()).slice(natsBefore);
    expect(js.map((m) => m.id).sort()).toEqual([...cids].sort());
    expect(js.map((m) => m.subject)).toEqual(expect.arrayContaining(["openci.lf.octo.pipelinerun.finished"]));
    // IRC (events: releases, failures): the one summary line, after octo's failure line when octo's
    // record was handled before acme/app's ended the release (else the summary alone names it); Matrix (releases): the summary.
    const said = fromRelay(irc);
    expect(said.filter((t) => t === summary)).toHaveLength(1);
    expect([[summary], [`hello simple-tag: octo failed (unit tests) ${PUBLIC}/releases/hello/simple-tag`, summary]]).toContainEqual(said);
    await waitFor("the summary in the Matrix room", () => matrix.roomEvents(roomId).length >= 1);
    expect(matrix.roomEvents(roomId).map((e) => [e.content.msgtype, e.content.body])).toEqual([["m.notice", summary]]);
    expect(matrix.problems).toEqual([]);
    const counts = await sinkCounts(h);
    expect(Object.values(counts).every((c) => c.deadLettered === 0 && c.dead === 0)).toBe(true);
    expect([counts.firehose!.delivered, counts.bus!.delivered, counts.fedora!.delivered]).toEqual([cids.length, cids.length, cids.length]);
  }, 90_000);

  it("the brokers and the IRC server SIGKILLed mid-stream and restarted: nothing lost, NATS without a duplicate, no dead letter, the queued line said", async () => {
    const [mq, queue] = await Promise.all([mqttListener(), amqpQueue()]);
    const natsBefore = (await natsMessages()).length;
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { ...env({ attempts: 20, retryMs: 100 }), OPENCI_ADMIN_TOKEN: "admin-token-for-the-sinks-test" } });

    // Every broker and the IRC server die once the release's first event is out; the rest of the
    // release is recorded while they are down. The IRC server comes back first, so that the test's
    // listener is in the channel before the bot says what it held.
    const flow = releaseWithAFailure(h);
    await waitFor("the release's first event on MQTT", () => mq.got.length >= 1, 20_000);
    await Promise.all([mosquitto.kill(), nats.kill(), rabbit.kill(), ircd.kill()]);
    const { cids } = await flow;
    await ircd.restart();
    const irc = await channelListener();
    await Promise.all([mosquitto.restart(), nats.restart(), rabbit.restart()]);

    await waitFor("every record on MQTT and AMQP after the restart", async () => new Set(mq.got.map((m) => m.id)).size >= cids.length && new Set((await queue.drain()).map((m) => m.messageId)).size >= cids.length, 45_000);
    await waitFor("the queued summary said once the bot is back", () => fromRelay(irc).some((t) => t.startsWith("hello simple-tag: 1 of 2 downstreams passed")), 45_000);
    await h.idle({ timeoutMs: 30_000 });

    expect(new Set(mq.got.map((m) => m.id))).toEqual(new Set(cids));
    expect(new Set((await queue.drain()).map((m) => m.messageId))).toEqual(new Set(cids));
    const js = (await natsMessages()).slice(natsBefore).map((m) => m.id);
    expect(js.sort()).toEqual([...cids].sort());
    expect(fromRelay(irc).filter((t) => t.includes("downstreams passed"))).toHaveLength(1);
    const counts = await sinkCounts(h);
    expect(Object.values(counts).every((c) => c.deadLettered === 0 && c.dead === 0)).toBe(true);
  }, 120_000);
});
