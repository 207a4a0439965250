import { dispatchTimes } from "./lib/dispatches.js";
import { post, tagDeliveries } from "./lib/deliveries.js";
import { paced } from "./lib/load.js";
import type { BenchOptions } from "./lib/options.js";
import { complaints, cpuMs, sampleRss, type NodeProcess } from "./lib/processes.js";
import type { Row, Section } from "./lib/report.js";
import { NO_RATE_LIMIT, Stack, type WebProcess } from "./lib/stack.js";
import { mb, ms, pct, sleep, times } from "./lib/stats.js";
import { DOWNSTREAM_INSTALLATION, downstreamRepos, tagNames, topology } from "./lib/topology.js";
import { RELAY_RUNS } from "./lib/built.js";
import { countCommands } from "./lib/redis-commands.js";

const PER_SECOND = 20;

/**
 * 3. End to end (and 5. memory under it): tag deliveries at a steady rate, each to the dispatch the
 * fake GitHub receives for it, matched by the dispatch's `inputs.openci_tag`. The relay (one web,
 * one worker process) beside a bare pipeline: Probot adding one BullMQ job, a BullMQ worker
 * dispatching it through Probot's Octokit (bench/bare-probot.ts, also two processes).
 */
export async function e2e(o: BenchOptions): Promise<Section> {
  const seconds = o.quick ? 3 : 30;
  const n = PER_SECOND * seconds;
  const [downstream] = downstreamRepos(1) as [string];
  // the tags of the timed run, its warm-up, and the commands' count after it
  const counted = o.quick ? 5 : 40;
  const { map, repos } = topology([downstream], tagNames(n + 1 + counted));
  const stack = await Stack.start("e2e", { map, repos, env: NO_RATE_LIMIT, cpuProfDir: o.cpuProfDir });
  try {
    const relay = { web: await stack.startWeb(), workers: await stack.startWorkers(1) };
    const bare = { web: await stack.startBare("web"), workers: [await stack.startBare("worker", { INSTALLATION_ID: String(DOWNSTREAM_INSTALLATION), DOWNSTREAM: downstream })] };
    const dispatches = dispatchTimes(stack.github);
    const sign = tagDeliveries();

    /** Sends `count` tags `prefix`0… at PER_SECOND; resolves with each tag's send time and ack. */
    const play = async (target: { web: WebProcess; workers: NodeProcess[] }, prefix: string, first: number, count: number) => {
      const sent = new Map<string, number>();
      const acks: number[] = [];
      let failed = 0;
      const rssPeaks = sampleRss([target.web, ...target.workers]);
      const pids = [target.web, ...target.workers].map((p) => p.child.pid);
      const cpuBefore = pids.map(cpuMs);
      const redisBefore = cpuMs(stack.redis.process.pid);
      await paced(PER_SECOND, count / PER_SECOND, async (i) => {
        const tag = `${prefix}${first + i}`;
        const at = Date.now();
        sent.set(tag, at);
        const status = await post(target.web.url, sign(tag)).catch(() => 0);
        if (status === 200) acks.push(Date.now() - at);
        else failed++;
      });
      await dispatches.waitFor([...sent.keys()], 60_000);
      // The upstream check-run writes after each dispatch (OPENCI_REPORT_SETTLE_MS after it) count
      // in the CPU per tag: waited for until the report queue has none left (the baseline writes none).
      await stack.drained("report");
      await sleep(200);
      const cpu = { relay: pids.map(cpuMs).reduce((a, b, i) => a + b - cpuBefore[i]!, 0) / count, redis: (cpuMs(stack.redis.process.pid) - redisBefore) / count };
      const peaks = [...rssPeaks.stop().values()];
      const peak = { sum: peaks.reduce((a, b) => a + b, 0), each: peaks.map(mb).join(" + ") };
      const latencies = [...sent].flatMap(([tag, at]) => (dispatches.at(tag) === undefined ? [] : [dispatches.at(tag)! - at]));
      return { latencies, acks, failed, missing: sent.size - latencies.length, peak, cpu };
    };

    await play(bare, "b", 0, 1); // warm-up: installation token, JIT
    await play(relay, "v", 0, 1);
    await sleep(3000);
    const idle = { relay: rss([relay.web, ...relay.workers]), bare: rss([bare.web, ...bare.workers]) };
    const b = await play(bare, "b", 1, n);
    const r = await play(relay, "v", 1, n);
    // Apart, after the timed runs (MONITOR slows Redis): the commands a tag costs each side.
    const bc = await countCommands(stack, () => play(bare, "b", n + 1, counted));
    const rc = await countCommands(stack, () => play(relay, "v", n + 1, counted));

    const p99 = pct(r.latencies, 99);
    const rows: Row[] = [
      { measure: `tag delivery → dispatch received by GitHub, p50 / p99 (${n} tags, ${PER_SECOND}/s)`, relay: `${ms(pct(r.latencies, 50))} / ${ms(p99)}`, baseline: `${ms(pct(b.latencies, 50))} / ${ms(pct(b.latencies, 99))}`, ratio: `${times(p99, pct(b.latencies, 99))} (p99)`, target: "p99 < 250 ms", met: p99 < 250 && r.missing === 0 },
      { measure: "… slowest", relay: ms(Math.max(...r.latencies)), baseline: ms(Math.max(...b.latencies)) },
      { measure: "tags never dispatched within 60 s / deliveries not acknowledged", relay: `${r.missing} / ${r.failed}`, baseline: `${b.missing} / ${b.failed}` },
      { measure: "ack p50 / p99 under this load", relay: `${ms(pct(r.acks, 50))} / ${ms(pct(r.acks, 99))}`, baseline: `${ms(pct(b.acks, 50))} / ${ms(pct(b.acks, 99))}` },
      { measure: "CPU time per tag: web + worker processes, + Redis", relay: `${ms(r.cpu.relay)} + ${ms(r.cpu.redis)}`, baseline: `${ms(b.cpu.relay)} + ${ms(b.cpu.redis)}`, ratio: times(r.cpu.relay + r.cpu.redis, b.cpu.relay + b.cpu.redis) },
      { measure: `Redis commands sent per tag (MONITOR, ${counted} more tags; inside scripts apart)`, relay: `${(rc.sent / counted).toFixed(1)} (+ ${(rc.inScripts / counted).toFixed(1)} in scripts)`, baseline: `${(bc.sent / counted).toFixed(1)} (+ ${(bc.inScripts / counted).toFixed(1)} in scripts)`, ratio: times(rc.sent, bc.sent) },
      { measure: "… the relay's, by name (over those tags)", relay: rc.top },
      { measure: "resident memory (VmRSS), web + worker, idle (after start and one tag)", relay: `${mb(idle.relay.sum)} (${idle.relay.each})`, baseline: `${mb(idle.bare.sum)} (${idle.bare.each})`, ratio: times(idle.relay.sum, idle.bare.sum) },
      { measure: "resident memory, web + worker, peak under this load", relay: `${mb(r.peak.sum)} (${r.peak.each})`, baseline: `${mb(b.peak.sum)} (${b.peak.each})`, ratio: times(r.peak.sum, b.peak.sum) },
    ];
    return {
      id: "e2e",
      title: "3. End to end: tag delivery → dispatch received by the forge",
      baseline: "bare Probot + one BullMQ job + Probot's Octokit",
      method: [
        `${n} tags at ${PER_SECOND} a second, evenly spaced and not waiting for answers (as GitHub sends), each a signed \`push\` delivery of a`,
        `new tag with one dependant. The relay runs as one web and one worker process (${RELAY_RUNS}) with no rate limit`,
        "(`OPENCI_WRITE_INTERVAL_MS=0`, no GitHub write or points budget); its worker also writes the upstream check runs, each once its state",
        "has settled (`OPENCI_REPORT_SETTLE_MS`, 1 s by default), and the CPU per tag counts until the last is written. Latency is",
        "from sending the delivery to the fake GitHub receiving the `workflow_dispatch` whose `inputs.openci_tag` is that tag (its request log,",
        "millisecond clock). The baseline does the least a relay must: Probot verifies the delivery and adds one BullMQ job; a BullMQ worker",
        "(concurrency 16, another process) POSTs the dispatch through Probot's installation Octokit; same Redis, same fake GitHub, run just before.",
      ].join("\n"),
      rows,
      notes: complaints(stack.processes),
    };
  } finally {
    await stack.stop();
  }
}

function rss(processes: NodeProcess[]) {
  const each = processes.map((p) => p.rssKb() ?? 0);
  return { sum: each.reduce((a, b) => a + b, 0), each: each.map(mb).join(" + ") };
}
