/**
 * npm run bench:sinks: broker subscribers (issue 21). Two parts, each beside a baseline of the same run:
 *
 * 1. Throughput per transport. BENCH_SINK_EVENTS (default 10,000) SinkMessages built by the relay's own
 *    `sinkMessage()` from realistic history records (1 release : 4 triggers : 8 run states, real CIDs),
 *    published (a) through the relay's transport (`mqttTransport` / `natsTransport` / `amqpTransport`,
 *    `publish()` awaited) and (b) by the broker's own client the way the relay's transport means it
 *    (mqtt.js QoS 1 awaiting the PUBACK, MQTT 5 with the same properties; @nats-io/jetstream
 *    `js.publish` with msgID awaiting the PubAck; rabbitmq-client `Publisher` with `confirm: true`,
 *    persistent), same payloads and topics, 8 at once (the sinks worker's concurrency) and 1 at a
 *    time. A warm-up of each, then BENCH_SINK_ROUNDS rounds (default 9) alternating which side goes
 *    first; the median of the rounds. Every (round, side) gets records of its own (the same shapes
 *    and sizes): JetStream drops a message id it has seen within its duplicate window, which would
 *    make a repeat publish cheap.
 * 2. Fan-out: one release to 100 subscribers through the whole relay (test/helpers/relay-harness.ts,
 *    the relay in this process on a private Redis and the fake GitHub, as the e2e tests run it):
 *    100 HTTP subscribers (one loopback server, a path each) and 100 MQTT subscribers (one
 *    Mosquitto, a topic each), each beside the same flow with 1 subscriber.
 *
 *   BENCH_SINK_PARTS   "throughput,fanout" (default both)
 *   BENCH_SINK_BROKERS "mqtt,nats,amqp" (default all three), for the throughput part
 *   BENCH_SINK_TAGS    measured tags per fan-out configuration (default 5, after one warm-up tag)
 *   BENCH_SINK_FANOUT  subscribers in the fan-out (default 100)
 *   BENCH_QUICK=1      200 events, 2 rounds, 2 tags: checks the harness, figures meaningless
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, cpus } from "node:os";
import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { jetstreamManager, jetstream } from "@nats-io/jetstream";
import { connect as natsConnect, headers as natsHeaders } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import mqtt from "mqtt";
import { pino } from "pino";
import { Connection } from "rabbitmq-client";
import { block } from "../src/history/cid.js";
import type { HistoryRecord } from "../src/history/record.js";
import { parseMap } from "../src/map/load.js";
import { sinkMessage } from "../src/sinks/sink-message.js";
import { fillTopic, type SinkMessage, type Transport } from "../src/sinks/transport.js";
import { AMQP_DEFAULT_EXCHANGE, AMQP_DEFAULT_ROUTING_KEY, amqpRoutingKey, amqpTransport } from "../src/sinks/transports/amqp.js";
import { MQTT_DEFAULT_TOPIC, mqttTopic, mqttTransport } from "../src/sinks/transports/mqtt.js";
import { NATS_DEFAULT_STREAM, NATS_DEFAULT_SUBJECT, natsTransport, sanitizeNatsToken } from "../src/sinks/transports/nats.js";
import { hellosDependantsMap, hellosDependantsRepos } from "../test/helpers/history.js";
import { startMosquitto, type Mosquitto } from "../test/helpers/mosquitto.js";
import { startNatsServer, type TestNatsServer } from "../test/helpers/nats-server.js";
import { startRabbitmq, type TestRabbitmq } from "../test/helpers/rabbitmq.js";
import { startHarness } from "../test/helpers/relay-harness.js";
import { COMMIT, UPSTREAM } from "../test/helpers/upstream.js";
import { median, ms, perS, times } from "./lib/stats.js";

const QUICK = process.env.BENCH_QUICK === "1";
const N = Number(process.env.BENCH_SINK_EVENTS ?? (QUICK ? 200 : 10_000));
const ROUNDS = Number(process.env.BENCH_SINK_ROUNDS ?? (QUICK ? 2 : 9));
const TAGS = Number(process.env.BENCH_SINK_TAGS ?? (QUICK ? 2 : 5));
const FANOUT = Number(process.env.BENCH_SINK_FANOUT ?? 100);
const PARTS = new Set((process.env.BENCH_SINK_PARTS ?? "throughput,fanout").split(","));
const BROKERS = new Set((process.env.BENCH_SINK_BROKERS ?? "mqtt,nats,amqp").split(","));
/** the sinks worker's concurrency (CONCURRENCY.sinks in src/workers/start.ts) */
const WORKER_CONCURRENCY = 8;
const TARGET = 0.7;
const SOURCE = "https://openci.example.org";
const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

setFlagsFromString("--expose-gc");
/** a full garbage collection (for the heap each publish leaves behind) */
const gc = runInNewContext("gc") as () => void;
const heapAfterGc = () => (gc(), gc(), process.memoryUsage().heapUsed);

const quietLog = pino({ level: "info" }, new Writable({ write: (_c, _e, done) => done() }));
const load = () => loadavg().map((l) => l.toFixed(2)).join(", ");
const say = (s: string) => process.stderr.write(`${s}\n`);

// ---------------------------------------------------------------------------------------------
// 1. Throughput per transport

const MAP = parseMap(hellosDependantsMap());

/**
 * `n` records as the relay writes them for releases of hello (1 release, 4 triggers, 8 run states
 * per release, downstreams octo and acme/app), tagged `label` so that every set has CIDs of its own,
 * each as the sinks worker hands it to a transport (`sinkMessage`, the relay's own).
 */
async function messages(label: string, n: number): Promise<SinkMessage[]> {
  const out: SinkMessage[] = [];
  const at = "2026-12-07T10:00:00.000Z";
  for (let r = 0; out.length < n; r++) {
    const tag = `${label}.${String(r).padStart(4, "0")}`;
    const records: HistoryRecord[] = [{ v: 1, kind: "release", at, project: "hello", forge: "github", repo: UPSTREAM, tag, sha: SHA, source: "create", artifacts: [`pkg:github/codertocat/hello-world@${tag}`] }];
    for (let d = 0; d < 4; d++) {
      const downstream = d % 2 === 0 ? "octo" : "acme/app";
      const run = `run-${tag}-${d}`;
      records.push({ v: 1, kind: "trigger", at, upstream: "hello", downstream, run, attempt: 0, outcome: "triggered", pipeline: { kind: "workflow_dispatch", id: "ci.yml", url: `https://github.com/acme/app/actions/runs/${r}${d}` } });
      for (const state of ["in_progress", "completed"] as const) {
        records.push({
          v: 1, kind: "run", at, upstream: "hello", downstream, run, forge: "github", repo: downstream === "octo" ? "octo-org/octo-repo" : "acme/app",
          runId: `${r}${d}`, state, ...(state === "completed" ? { conclusion: d === 0 ? "failure" : "success" } : {}),
          url: `https://github.com/acme/app/actions/runs/${r}${d}`, failedJobs: state === "completed" && d === 0 ? ["unit tests"] : [], artifacts: [], source: "workflow_run",
        });
      }
    }
    for (const record of records) {
      if (out.length >= n) break;
      out.push(sinkMessage((await block(record)).cid.toString(), record, SOURCE, MAP));
    }
  }
  return out;
}

/**
 * Publishes `count` messages with `concurrency` under way at once: events a second, this process's
 * CPU time per event (µs), and the heap still held after a full GC per event (bytes; the messages
 * themselves were allocated before).
 */
async function drive(count: number, concurrency: number, publish: (i: number) => Promise<void>): Promise<{ rate: number; cpuUs: number; heldBytes: number }> {
  let next = 0;
  const h0 = heapAfterGc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < count; i = next++) await publish(i);
  }));
  const rate = count / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(c0);
  return { rate, cpuUs: (cpu.user + cpu.system) / count, heldBytes: (heapAfterGc() - h0) / count };
}

interface Side {
  /** sends one message and resolves once the broker has it */
  publish(message: SinkMessage): Promise<void>;
  close(): Promise<void>;
}
interface Broker {
  name: string;
  /** what the baseline is, for the table */
  baseline: string;
  relay: () => Side;
  own: () => Promise<Side>;
  /** between rounds (untimed): e.g. empty the JetStream stream so it does not grow all run */
  tidy?: () => Promise<void>;
}

function mqttBroker(m: Mosquitto): Broker {
  return {
    name: "MQTT (Mosquitto 2, QoS 1, MQTT 5 binary mode)",
    baseline: "mqtt.js `publishAsync` QoS 1, same topic, payload and properties",
    relay: () => mqttTransport({ id: "bench-mqtt", url: m.url }, {}, quietLog),
    own: async () => {
      const client = await mqtt.connectAsync(m.url, { protocolVersion: 5, clean: true, clientId: `bench-own-${process.pid}`, reconnectPeriod: 0 });
      return {
        publish: async (msg) => {
          await client.publishAsync(mqttTopic(MQTT_DEFAULT_TOPIC, msg), msg.body, {
            qos: 1,
            properties: { contentType: msg.attributes.datacontenttype ?? "application/json", payloadFormatIndicator: true, userProperties: msg.attributes },
          });
        },
        close: () => client.endAsync(),
      };
    },
  };
}

function natsBroker(n: TestNatsServer): Broker {
  return {
    name: "NATS JetStream (nats-server 2, file storage)",
    baseline: "@nats-io/jetstream `js.publish` with msgID and ce- headers, awaiting the PubAck",
    relay: () => natsTransport({ id: "bench-nats", url: n.url }, {}, quietLog),
    own: async () => {
      const nc = await natsConnect({ servers: `127.0.0.1:${n.port}` });
      const js = jetstream(nc);
      return {
        publish: async (msg) => {
          const h = natsHeaders();
          for (const [name, value] of Object.entries(msg.attributes)) h.set(`ce-${name}`, value);
          await js.publish(fillTopic(NATS_DEFAULT_SUBJECT, msg.names, sanitizeNatsToken), msg.body, { msgID: msg.cid, headers: h });
        },
        close: () => nc.close(),
      };
    },
    tidy: async () => {
      const nc = await natsConnect({ servers: `127.0.0.1:${n.port}` });
      await (await jetstreamManager(nc)).streams.purge(NATS_DEFAULT_STREAM).catch(() => undefined);
      await nc.close();
    },
  };
}

function amqpBroker(r: TestRabbitmq): Broker {
  return {
    name: "AMQP 0-9-1 (RabbitMQ 3, publisher confirms)",
    baseline: "rabbitmq-client `Publisher` `confirm: true`, persistent, same exchange, routing key, headers",
    relay: () => amqpTransport({ id: "bench-amqp", url: r.url, username_env: "BENCH_RABBIT_USER", password_env: "BENCH_RABBIT_PASSWORD" },
      { BENCH_RABBIT_USER: "guest", BENCH_RABBIT_PASSWORD: "guest" }, quietLog),
    own: async () => {
      const connection = new Connection({ url: r.guestUrl });
      const publisher = connection.createPublisher({ confirm: true });
      return {
        publish: async (msg) => {
          const { datacontenttype, ...attributes } = msg.attributes;
          await publisher.send({
            exchange: AMQP_DEFAULT_EXCHANGE, routingKey: amqpRoutingKey(AMQP_DEFAULT_ROUTING_KEY, msg), durable: true, messageId: msg.cid,
            contentType: datacontenttype ?? "application/json", appId: "openci-relay",
            headers: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [`cloudEvents:${name}`, value])),
          }, Buffer.from(msg.body, "utf8"));
        },
        close: async () => {
          await publisher.close();
          await connection.close();
        },
      };
    },
  };
}

interface Throughput {
  broker: Broker;
  concurrency: number;
  relay: number[];
  own: number[];
  /** this process's CPU time per event, µs, each round */
  relayCpu: number[];
  ownCpu: number[];
  /** heap held after a full GC per event, bytes, each round */
  relayHeld: number[];
  ownHeld: number[];
}

async function throughput(): Promise<{ results: Throughput[]; buildUs: number; bytes: number }> {
  say(`starting Mosquitto, nats-server and RabbitMQ (private, free ports)…`);
  const [m, n, r] = await Promise.all([startMosquitto(), startNatsServer(), startRabbitmq()]);
  const results: Throughput[] = [];
  let buildUs = 0;
  let bytes = 0;
  try {
    const brokers = [...(BROKERS.has("mqtt") ? [mqttBroker(m)] : []), ...(BROKERS.has("nats") ? [natsBroker(n)] : []), ...(BROKERS.has("amqp") ? [amqpBroker(r)] : [])];
    // One connection per side and broker for the whole run, as the relay keeps its transport (TransportPool).
    const sides = await Promise.all(brokers.map(async (b) => ({ b, relay: transportSide(b.relay()), own: await b.own() })));
    // The cost of building a message (the sinks worker does it per delivery, before publish): measured apart.
    const b0 = performance.now();
    const warm = await messages("warmup", N);
    buildUs = ((performance.now() - b0) * 1000) / N;
    bytes = median(warm.map((w) => Buffer.byteLength(w.body)));
    for (const { b, relay, own } of sides) {
      // warm-up: the relay first (it creates the JetStream stream and declares the exchange: one message
      // alone, see the AMQP note in BENCHMARKS.md), then the client
      await relay.publish(warm[0]!);
      await drive(Math.min(N, 500), WORKER_CONCURRENCY, (i) => relay.publish(warm[i]!));
      await drive(Math.min(N, 500), WORKER_CONCURRENCY, (i) => own.publish(warm[i + 500 < N ? i + 500 : i]!));
      await b.tidy?.();
    }
    for (const concurrency of [WORKER_CONCURRENCY, 1]) {
      const rows: Throughput[] = sides.map(({ b }) => ({ broker: b, concurrency, relay: [], own: [], relayCpu: [], ownCpu: [], relayHeld: [], ownHeld: [] }));
      for (let round = 0; round < ROUNDS; round++) {
        const sets = { relay: await messages(`c${concurrency}r${round}a`, N), own: await messages(`c${concurrency}r${round}b`, N) };
        for (const [k, { b, relay, own }] of sides.entries()) {
          const order = (round + k) % 2 === 0 ? (["relay", "own"] as const) : (["own", "relay"] as const);
          for (const which of order) {
            const side = which === "relay" ? relay : own;
            const set = sets[which];
            const { rate, cpuUs, heldBytes } = await drive(N, concurrency, (i) => side.publish(set[i]!));
            rows[k]![which].push(rate);
            rows[k]![which === "relay" ? "relayCpu" : "ownCpu"].push(cpuUs);
            rows[k]![which === "relay" ? "relayHeld" : "ownHeld"].push(heldBytes);
          }
          await b.tidy?.();
        }
        say(`  ${concurrency} at once, round ${round + 1}/${ROUNDS} (load ${load()}): ${rows.map((x) => `${x.broker.name.split(" ")[0]} ${perS(x.relay.at(-1)!)} vs ${perS(x.own.at(-1)!)}`).join("; ")}`);
      }
      results.push(...rows);
    }
    await Promise.all(sides.flatMap(({ relay, own }) => [relay.close(), own.close()]));
  } finally {
    await Promise.all([m.stop(), n.stop(), r.stop()]);
  }
  return { results, buildUs, bytes };
}

const transportSide = (t: Transport): Side => ({ publish: (msg) => t.publish(msg), close: () => t.close() });

// ---------------------------------------------------------------------------------------------
// 2. Fan-out: one release to many subscribers, through the whole relay

interface Arrival {
  /** which subscriber */
  sink: string;
  /** the CDEvent type */
  type: string;
  /** performance.now() when it arrived */
  at: number;
}

/** One loopback HTTP server for every HTTP subscriber, told apart by path (/s0, /s1, …); records each POST. */
async function httpSubscribers() {
  const arrivals: Arrival[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    req.resume();
    req.on("end", () => {
      arrivals.push({ sink: req.url ?? "", type: String(req.headers["ce-type"]), at: performance.now() });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    arrivals,
    sinks: (n: number) => Array.from({ length: n }, (_, i) => ({ id: `s${i}`, url: `${base}/s${i}`, secret: "bench-sink-secret-0123456789" })),
    stop: () => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

/** One Mosquitto; each MQTT subscriber publishes to a topic of its own (bench/m<i>/…); one listener on bench/# records them. */
async function mqttSubscribers(m: Mosquitto) {
  const arrivals: Arrival[] = [];
  const client = await mqtt.connectAsync(m.url, { protocolVersion: 5, clientId: `bench-listener-${process.pid}`, clean: true });
  client.on("message", (topic, _payload, packet) => {
    arrivals.push({ sink: topic.split("/")[1] ?? "", type: String(packet.properties?.userProperties?.type), at: performance.now() });
  });
  await client.subscribeAsync("bench/#", { qos: 1 });
  return {
    arrivals,
    sinks: (n: number) => Array.from({ length: n }, (_, i) => ({ id: `m${i}`, url: m.url, topic: `bench/m${i}/{project}/{event}` })),
    stop: () => client.endAsync(),
  };
}

interface FanoutFigures {
  subscribers: number;
  /** events of one release each subscriber gets */
  eventsEach: number;
  /** per tag: webhook sent → every subscriber has the release's first event (artifact.published) */
  first: number[];
  /** per tag: webhook sent → the last subscriber has every event of the release */
  last: number[];
  /** per tag: deliveries a second between the first and the last arrival */
  rate: number[];
  /** per tag: Redis commands */
  commands: number[];
  /** the warm-up tag (connections opened, first look-ups): webhook → last */
  warmupLast: number;
}

async function fanout(kind: "http" | "mqtt", subscribers: number, m?: Mosquitto): Promise<FanoutFigures> {
  const listener = kind === "http" ? await httpSubscribers() : await mqttSubscribers(m!);
  const tags = Array.from({ length: TAGS + 1 }, (_, i) => `bench-${i}`);
  const repos = hellosDependantsRepos();
  const upstream = repos[UPSTREAM]!;
  upstream.tags = { ...upstream.tags, ...Object.fromEntries(tags.map((t) => [t, { type: "commit" as const, sha: COMMIT }])) };
  const h = await startHarness({
    map: hellosDependantsMap(), repos,
    env: { OPENCI_SINKS: JSON.stringify(listener.sinks(subscribers)), OPENCI_PUBLIC_URL: SOURCE },
  });
  const redis = new Redis(h.redisUrl);
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info("stats"))?.[1] ?? 0);
  const f: FanoutFigures = { subscribers, eventsEach: 0, first: [], last: [], rate: [], commands: [], warmupLast: 0 };
  try {
    for (const [i, tag] of tags.entries()) {
      listener.arrivals.length = 0;
      h.logs.length = 0; // the harness keeps every log line: not across tags
      const c0 = await commands();
      const t0 = performance.now();
      const sent = await h.send("create.tag", (p) => void (p.ref = tag));
      if (sent.status !== 200) throw new Error(`the tag ${tag}'s delivery was answered ${sent.status}: ${sent.text}`);
      if (i === 0) {
        // the warm-up tag says how many events one release makes for each subscriber
        await h.idle({ watch: [() => listener.arrivals.length], timeoutMs: 60_000 });
        f.eventsEach = listener.arrivals.length / subscribers;
        if (!Number.isInteger(f.eventsEach) || f.eventsEach < 1) throw new Error(`warm-up: ${listener.arrivals.length} deliveries to ${subscribers} subscribers`);
        f.warmupLast = Math.max(...listener.arrivals.map((a) => a.at)) - t0;
        say(`  ${kind} × ${subscribers}: one release is ${f.eventsEach} events each (${[...new Set(listener.arrivals.map((a) => a.type))].join(", ")})`);
        continue;
      }
      const want = subscribers * f.eventsEach;
      const deadline = performance.now() + 60_000;
      while (listener.arrivals.length < want) {
        if (performance.now() > deadline) throw new Error(`tag ${tag}: ${listener.arrivals.length} of ${want} deliveries within 60 s`);
        await new Promise((r) => setTimeout(r, 2));
      }
      const arrivals = [...listener.arrivals];
      await h.idle({ watch: [() => listener.arrivals.length], timeoutMs: 60_000 });
      if (listener.arrivals.length !== want) throw new Error(`tag ${tag}: ${listener.arrivals.length} deliveries, ${want} expected`);
      const perSink = new Map<string, number>();
      for (const a of arrivals) perSink.set(a.sink, (perSink.get(a.sink) ?? 0) + 1);
      if (perSink.size !== subscribers || [...perSink.values()].some((k) => k !== f.eventsEach)) throw new Error(`tag ${tag}: not ${f.eventsEach} events to each of ${subscribers} subscribers`);
      const firstEach = new Map<string, number>();
      for (const a of arrivals) if (a.type.includes("artifact.published")) firstEach.set(a.sink, Math.min(firstEach.get(a.sink) ?? Infinity, a.at));
      const ats = arrivals.map((a) => a.at);
      f.first.push(Math.max(...firstEach.values()) - t0);
      f.last.push(Math.max(...ats) - t0);
      f.rate.push(want > 1 ? (want - 1) / ((Math.max(...ats) - Math.min(...ats)) / 1000) : Number.NaN);
      f.commands.push((await commands()) - c0 - 1);
      say(`  ${kind} × ${subscribers}, ${tag} (load ${load()}): first event at all ${ms(f.first.at(-1)!)}, all ${want} ${ms(f.last.at(-1)!)}`);
    }
  } finally {
    redis.disconnect();
    await h.stop();
    await listener.stop();
  }
  return f;
}

// ---------------------------------------------------------------------------------------------

const started = new Date().toISOString().slice(0, 16).replace("T", " ");
const loadAtStart = load();
const machine = `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}`;
const out: string[] = [`_${started} UTC · \`npm run bench:sinks\` · ${machine} · load average ${loadAtStart} at start_`, ""];

if (PARTS.has("throughput")) {
  const { results, buildUs, bytes } = await throughput();
  out.push(
    `#### Throughput: ${N} events a round, median of ${ROUNDS} rounds (range)`,
    "",
    "| broker | at once | relay's transport, events/s | broker's own client, events/s | relay ÷ client (median of the rounds' own ratios) | target | CPU of the publishing process per event: relay / client | heap still held after GC per event: relay / client |",
    "|---|---|---|---|---|---|---|---|",
    ...results.map((x) => {
      const ratio = median(x.relay) / median(x.own);
      const range = (xs: number[]) => `${perS(Math.min(...xs))}–${perS(Math.max(...xs))}`;
      // each round's two sides ran one after the other: their ratio is less disturbed by the neighbours' load than the medians
      const paired = median(x.relay.map((v, i) => v / x.own[i]!));
      return `| ${x.broker.name} | ${x.concurrency} | ${perS(median(x.relay))} (${range(x.relay)}) | ${perS(median(x.own))} (${range(x.own)}) | ${times(median(x.relay), median(x.own))} (${paired.toFixed(2)}×) | ≥ ${TARGET}×: ${ratio >= TARGET ? "met" : "**not met**"} | ${median(x.relayCpu).toFixed(0)} µs / ${median(x.ownCpu).toFixed(0)} µs | ${median(x.relayHeld).toFixed(0)} B / ${median(x.ownHeld).toFixed(0)} B |`;
    }),
    "",
    `Baselines: ${results.filter((x) => x.concurrency === WORKER_CONCURRENCY).map((x) => `${x.broker.name.split(" ")[0]}: ${x.broker.baseline}`).join("; ")}. `
      + `Building one message (\`sinkMessage()\`: CDEvent, CloudEvents attributes, both encodings), which the sinks worker does per delivery before \`publish()\` and is not in the figures above: ${buildUs.toFixed(0)} µs; a CDEvent is ${bytes} bytes (median).`,
    "",
  );
}

if (PARTS.has("fanout")) {
  say("fan-out: the relay in this process (test/helpers/relay-harness.ts)…");
  const m = await startMosquitto();
  const figures: { kind: string; one: FanoutFigures; many: FanoutFigures }[] = [];
  try {
    for (const kind of ["http", "mqtt"] as const) {
      const one = await fanout(kind, 1, m);
      const many = await fanout(kind, FANOUT, m);
      figures.push({ kind, one, many });
    }
  } finally {
    await m.stop();
  }
  out.push(
    `#### Fan-out: one release (tag webhook) to ${FANOUT} subscribers, median of ${TAGS} tags (range) after a warm-up tag`,
    "",
    `| subscribers | events a release, each | webhook → first event at every subscriber | webhook → every event at every subscriber | deliveries/s (first → last arrival) | Redis commands a release | warm-up tag (connections opened): webhook → all |`,
    "|---|---|---|---|---|---|---|",
    ...figures.flatMap(({ kind, one, many }) => [one, many].map((f) => {
      // what each delivery beyond the one subscriber's costs in Redis (the release itself, the triggers and the polling are in both)
      const marginal = (median(many.commands) - median(one.commands)) / ((many.subscribers - one.subscribers) * many.eventsEach);
      const range = (xs: number[]) => `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
      const label = `${f.subscribers} ${kind === "http" ? "HTTP (one server, a path each)" : "MQTT (one Mosquitto, a topic each)"}`;
      const more = f === many ? ` (${times(median(many.last), median(one.last))} the 1-subscriber time)` : "";
      return `| ${label} | ${f.eventsEach} | ${range(f.first)} | ${range(f.last)}${more} | ${f === many ? perS(median(f.rate)) : "–"} | ${Math.round(median(f.commands)).toLocaleString("en")}${f === many ? ` (${marginal.toFixed(1)} for each delivery more than the 1-subscriber run)` : ""} | ${ms(f.warmupLast)} |`;
    })),
    "",
  );
}

out.push(`_load average at the end: ${load()}_`);
process.stdout.write(`${out.join("\n")}\n`);
process.exit(0);
