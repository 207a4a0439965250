import { cannon, type LoadResult } from "./lib/load.js";
import { complaints, cpuMs, sampleRss } from "./lib/processes.js";
import type { BenchOptions } from "./lib/options.js";
import { tagDeliveries } from "./lib/deliveries.js";
import type { Row, Section } from "./lib/report.js";
import { Stack, type WebProcess } from "./lib/stack.js";
import { mb, ms, pct, perS, sleep, times } from "./lib/stats.js";
import { downstreamRepos, topology } from "./lib/topology.js";
import { RELAY_RUNS } from "./lib/built.js";

const RATE = 500;
const RATE_CONNECTIONS = 10;

/**
 * 1. Ingest (and 5. memory under it): signed tag deliveries over HTTP at rising concurrency, the
 * relay's web role (no worker process: the events pile up in Redis) beside a bare Probot app with
 * a no-op `push` handler, each its own process, driven in turn by the same autocannon client.
 */
/** Where the relay is also measured beside a bare Probot app that enqueues (issue 22's levels). */
const ENQUEUING_LEVELS = [1, 16, 64];

export async function ingest(o: BenchOptions): Promise<Section> {
  const levels = o.quick ? [1, 16] : [1, 4, 16, 64];
  const seconds = o.quick ? 2 : 10;
  const { map, repos } = topology(downstreamRepos(1), []);
  const stack = await Stack.start("ingest", { map, repos, cpuProfDir: o.cpuProfDir });
  try {
    const relay = await stack.startWeb();
    const bare = await stack.startBare("ingest");
    const bareQueue = await stack.startBare("web");
    await sleep(2000);
    const idle = { relay: relay.rssKb(), bare: bare.rssKb() };

    const sign = tagDeliveries();
    let n = 0;
    const next = () => sign(`v${n++}`);
    const run = (target: WebProcess, connections: number, secs: number, rate?: number) => cannon(target.url, { connections, seconds: secs, rate, next });
    let relayAcked = 0;
    let inFlightAtStops = 0;
    // CPU time per delivery: less disturbed than throughput by others' work on a shared machine.
    const cpu = { relay: 0, redis: 0, bare: 0, relayOk: 0, bareOk: 0 };
    const measure = async (connections: number, secs: number, rate?: number) => {
      const bareCpu = cpuMs(bare.child.pid);
      const b = await run(bare, connections, secs, rate);
      cpu.bare += cpuMs(bare.child.pid) - bareCpu;
      cpu.bareOk += b.ok;
      const rss = sampleRss([relay, bare]);
      const [relayCpu, redisCpu] = [cpuMs(relay.child.pid), cpuMs(stack.redis.process.pid)];
      const r = await run(relay, connections, secs, rate);
      cpu.relay += cpuMs(relay.child.pid) - relayCpu;
      cpu.redis += cpuMs(stack.redis.process.pid) - redisCpu;
      cpu.relayOk += r.ok;
      relayAcked += r.ok;
      inFlightAtStops += connections;
      return { bare: b, relay: r, peak: rss.stop() };
    };

    await measure(16, o.quick ? 0.5 : 2); // warm-up: JIT, connection pools
    await run(bareQueue, 16, o.quick ? 0.5 : 2);
    Object.assign(cpu, { relay: 0, redis: 0, bare: 0, relayOk: 0, bareOk: 0 });
    const rows: Row[] = [];
    let peak = { relay: 0, bare: 0 };
    const remember = (p: Map<string, number>) => {
      peak = { relay: Math.max(peak.relay, p.get(relay.name) ?? 0), bare: Math.max(peak.bare, p.get(bare.name) ?? 0) };
    };
    for (const c of levels) {
      const m = await measure(c, seconds);
      remember(m.peak);
      rows.push(
        { measure: `deliveries acknowledged per second, ${c} in flight`, relay: perS(m.relay.rate), baseline: perS(m.bare.rate), ratio: times(m.relay.rate, m.bare.rate), target: "≥ 0.80×", met: m.relay.rate >= 0.8 * m.bare.rate },
        { measure: `ack p50 / p99, ${c} in flight`, relay: p50p99(m.relay), baseline: p50p99(m.bare), ratio: times(pct(m.relay.latencies, 99), pct(m.bare.latencies, 99)) + " (p99)" },
      );
      if (!ENQUEUING_LEVELS.includes(c)) continue;
      // What a durable acknowledgement costs at least: the same bare app, its handler adding one BullMQ job.
      const enqueuing = await run(bareQueue, c, seconds);
      rows.push({
        measure: `… ${c} in flight, beside a second baseline: bare Probot whose handler adds one BullMQ job (same Redis)`,
        relay: perS(m.relay.rate), baseline: `${perS(enqueuing.rate)}; ack p50 / p99 ${p50p99(enqueuing)}`, ratio: times(m.relay.rate, enqueuing.rate),
        target: "≥ 0.90×", met: m.relay.rate >= 0.9 * enqueuing.rate,
      });
    }
    const fixed = await measure(RATE_CONNECTIONS, seconds, RATE);
    remember(fixed.peak);
    const p99 = pct(fixed.relay.latencies, 99);
    rows.push(
      { measure: `${RATE} deliveries/s held (${RATE_CONNECTIONS} connections): rate achieved`, relay: perS(fixed.relay.rate), baseline: perS(fixed.bare.rate), ratio: times(fixed.relay.rate, fixed.bare.rate), target: `${RATE}/s`, met: fixed.relay.rate >= 0.98 * RATE },
      { measure: `${RATE} deliveries/s held: ack p50 / p99`, relay: p50p99(fixed.relay), baseline: p50p99(fixed.bare), ratio: times(p99, pct(fixed.bare.latencies, 99)) + " (p99)", target: "p99 < 50 ms", met: p99 < 50 },
      {
        measure: "CPU time per acknowledged delivery, all steps: relay process + its Redis",
        relay: `${us(cpu.relay / cpu.relayOk)} + ${us(cpu.redis / cpu.relayOk)}`, baseline: us(cpu.bare / cpu.bareOk),
        ratio: times((cpu.relay + cpu.redis) / cpu.relayOk, cpu.bare / cpu.bareOk),
      },
      { measure: "resident memory (VmRSS), idle after start", relay: mb(idle.relay), baseline: mb(idle.bare), ratio: times(idle.relay ?? 0, idle.bare ?? 0) },
      { measure: "resident memory, peak under this load", relay: mb(peak.relay), baseline: mb(peak.bare), ratio: times(peak.relay, peak.bare) },
    );

    const failures = complaints(stack.processes);
    const queued = await stack.jobCount("events");
    return {
      id: "ingest",
      title: "1. Ingest: signed tag deliveries over HTTP",
      baseline: "bare Probot, no-op handler",
      method: [
        `Real \`push\` deliveries of new tags (@octokit/webhooks-examples' push.tag, each with its own delivery id and tag, HMAC-signed), POSTed by`,
        `autocannon ${seconds} s per step at rising concurrency, first to the baseline, then to the relay. The relay runs ${RELAY_RUNS} with`,
        "`OPENCI_ROLE=web` and **no worker process**: every acknowledgement means the event was verified, normalised and added to the",
        `events queue in Redis, where it stays. The baseline is \`new Server({ Probot: Probot.defaults(…) })\` loading \`app.on("push", async () => {})\``,
        "(bench/bare-probot.ts), its own process too. The fixed-rate step uses autocannon's `overallRate`: each connection sends its share of",
        "the second back to back from the start of each second, so arrivals come in bursts of up to that many in flight.",
      ].join("\n"),
      rows,
      notes: [
        `${relayAcked} deliveries acknowledged by the relay (warm-up included), ${queued} jobs in its events queue: ${
          queued >= relayAcked && queued - relayAcked <= inFlightAtStops ? "one each, and one each for the deliveries in flight when a step stopped" : "**they do not match**"}.`,
        ...failures,
      ],
    };
  } finally {
    await stack.stop();
  }
}

const us = (msPerDelivery: number) => `${Math.round(msPerDelivery * 1000)} µs`;
const p50p99 = (r: LoadResult) => `${ms(pct(r.latencies, 50))} / ${ms(pct(r.latencies, 99))}${r.failed ? ` (${r.failed} failed)` : ""}`;
