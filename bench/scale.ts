import { availableParallelism } from "node:os";
import { dispatchTimes } from "./lib/dispatches.js";
import { post, tagDeliveries } from "./lib/deliveries.js";
import type { BenchOptions } from "./lib/options.js";
import { complaints, cpuMs, sampleRss } from "./lib/processes.js";
import type { Row, Section } from "./lib/report.js";
import { NO_RATE_LIMIT, Stack } from "./lib/stack.js";
import { mb, perS } from "./lib/stats.js";
import { downstreamRepos, tagNames, topology } from "./lib/topology.js";
import { RELAY_RUNS } from "./lib/built.js";

const LATENCY_MS = 200;

/**
 * 6. Scaling: 1, 2 and 4 worker processes (and one web) against a forge that answers every request
 * in 200 ms, a burst of tags each to many dependants: dispatches a second, and the efficiency
 * against n × the single worker's throughput.
 */
export async function scale(o: BenchOptions): Promise<Section> {
  const configs = o.quick ? [1, 2] : [1, 2, 4];
  const dependants = o.quick ? 10 : 20;
  const tags = o.quick ? 4 : 50;
  const total = dependants * tags;
  const rows: Row[] = [];
  const notes: string[] = [];
  let single = 0;
  for (const workers of configs) {
    const { map, repos } = topology(downstreamRepos(dependants), tagNames(tags + 1));
    const stack = await Stack.start("scale", { map, repos, forge: { latencyMs: LATENCY_MS }, env: NO_RATE_LIMIT, cpuProfDir: o.cpuProfDir });
    try {
      const web = await stack.startWeb();
      const started = await stack.startWorkers(workers);
      const dispatches = dispatchTimes(stack.github);
      const sign = tagDeliveries();
      const send = async (tag: string) => {
        const status = await post(web.url, sign(tag));
        if (status !== 200) throw new Error(`delivery of ${tag} answered ${status}`);
      };
      await send("v0"); // warm-up: installation look-ups (then cached in Redis), JIT
      await dispatches.waitFor(["v0"], 30_000);
      await new Promise((r) => setTimeout(r, LATENCY_MS * 10));
      const before = dispatches.all().length;

      const rss = sampleRss([web, ...started]);
      const relayPids = [web, ...started].map((p) => p.child.pid);
      const cpu0 = { relay: relayPids.map(cpuMs), redis: cpuMs(stack.redis.process.pid), bench: process.cpuUsage() };
      const t0 = Date.now();
      for (let i = 1; i <= tags; i++) await send(`v${i}`);
      const deadline = Date.now() + 300_000;
      while (dispatches.all().length < before + total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const peak = [...rss.stop().values()].reduce((a, b) => a + b, 0);
      const wall = Date.now() - t0;
      const bench = process.cpuUsage(cpu0.bench);
      const cores = {
        relay: relayPids.map(cpuMs).reduce((a, b, i) => a + b - cpu0.relay[i]!, 0) / wall,
        redis: (cpuMs(stack.redis.process.pid) - cpu0.redis) / wall,
        bench: (bench.user + bench.system) / 1000 / wall,
      };
      const times = dispatches.all().slice(before).sort((a, b) => a - b);
      // Throughput between the 10th and the 90th percentile of arrivals: no ramp-up, no tail.
      const lo = Math.floor(times.length * 0.1);
      const hi = Math.ceil(times.length * 0.9) - 1;
      const rate = ((hi - lo) * 1000) / Math.max(1, times[hi]! - times[lo]!);
      if (workers === 1) single = rate;
      const ideal = workers * single;
      rows.push({
        measure: `${workers} worker process${workers > 1 ? "es" : ""}: dispatches a second (efficiency)`,
        relay: `${perS(rate)} (${Math.round((100 * rate) / ideal)}%)`,
        baseline: `${perS(ideal)} (${workers} × 1 process)`,
        ratio: `${(rate / ideal).toFixed(2)}×`,
      }, {
        measure: `… all ${total} dispatched after; peak resident memory of the web + worker processes`,
        relay: `${((times.at(-1)! - t0) / 1000).toFixed(1)} s; ${mb(peak)}`,
      }, {
        measure: `… cores busy meanwhile (of ${availableParallelism()}): relay processes + Redis + the bench with the fake GitHub`,
        relay: `${(cores.relay + cores.redis + cores.bench).toFixed(2)} = ${cores.relay.toFixed(2)} + ${cores.redis.toFixed(2)} + ${cores.bench.toFixed(2)}`,
      });
      if (times.length < total) notes.push(`${workers} workers: only ${times.length} of ${total} dispatches arrived within 300 s.`);
      notes.push(...complaints(stack.processes));
    } finally {
      await stack.stop();
    }
  }
  return {
    id: "scale",
    title: `6. Scaling: worker processes against a forge answering in ${LATENCY_MS} ms`,
    baseline: "linear scaling of one worker process",
    method: [
      `Each configuration on a fresh Redis and fake GitHub, behind bench/forge-conditions.ts adding ${LATENCY_MS} ms to every request (token, look-ups,`,
      `dispatches, check runs). A map of 1 upstream and ${dependants} dependants; one warm-up tag, then ${tags} tags sent back to back: ${total} dispatches.`,
      `One web process and n worker processes (${RELAY_RUNS}, no rate limit, trigger concurrency 16 per process). Throughput is`,
      "measured between the 10th and 90th percentile of the dispatches' arrival at the fake; efficiency = throughput ÷ (n × one process's).",
      "**All processes share the machine's 2 cores**, the bench's too (it hosts the fake GitHub, which checks every request against GitHub's",
      "OpenAPI description): once they are busy, more worker processes cannot add throughput. The cores-busy row says how close that was.",
    ].join("\n"),
    rows,
    notes,
  };
}
