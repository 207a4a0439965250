import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Job, Queue } from "bullmq";
import { deliveryJobId } from "../src/queue/job-ids.js";
import { KEY_PREFIX, QUEUES } from "../src/queue/names.js";
import { JOB_OPTIONS } from "../src/queue/queues.js";
import { post, tagDeliveries } from "./lib/deliveries.js";
import type { BenchOptions } from "./lib/options.js";
import { complaints } from "./lib/processes.js";
import type { Row, Section } from "./lib/report.js";
import { NO_RATE_LIMIT, Stack } from "./lib/stack.js";
import { median, ms, sleep, times } from "./lib/stats.js";
import { downstreamRepos, tagNames, topology } from "./lib/topology.js";

const DEPENDANTS = 1000;

/**
 * 2. Fan-out: one tag to 1,000 dependants, from the delivery's acknowledgement to all 1,000 trigger
 * jobs in Redis, beside a raw BullMQ `addBulk` of the same 1,000 jobs (their data read back from
 * the relay's queue) on the same Redis. One web and one worker process.
 */
export async function fanout(o: BenchOptions): Promise<Section> {
  const reps = o.quick ? 2 : 7;
  const tags = tagNames(reps + 2);
  const { map, repos } = topology(downstreamRepos(DEPENDANTS), tags);
  const stack = await Stack.start("fanout", { map, repos, env: { ...NO_RATE_LIMIT, OPENCI_MAX_TRIGGERS_PER_EVENT: String(2 * DEPENDANTS) }, cpuProfDir: o.cpuProfDir });
  const raw = new Queue("bench-raw-addbulk", { connection: stack.redisClient, prefix: KEY_PREFIX, defaultJobOptions: JOB_OPTIONS.trigger });
  try {
    const web = await stack.startWeb();
    await stack.startWorkers(1);
    const events = stack.queue("events");
    const trigger = stack.queue("trigger");
    const report = stack.queue("report");
    // Nothing consumes what the fan-out adds, as nothing consumes the raw addBulk's jobs.
    for (const q of [trigger, report, stack.queue("sinks")]) await q.pause();
    const count = () => stack.jobCount("trigger");
    const sign = tagDeliveries();

    /** One tag: its timeline, from the bench's clock (ack) and the worker's and Redis's (same machine). */
    const fanOutOnce = async (tag: string) => {
      const before = await count();
      const reportsBefore = await stack.jobCount("report");
      const id = randomUUID();
      const sent = Date.now();
      const status = await post(web.url, sign(tag, id));
      const acked = Date.now();
      if (status !== 200) throw new Error(`delivery of ${tag} answered ${status}`);
      const deadline = acked + 60_000;
      while ((await count()) < before + DEPENDANTS) {
        if (Date.now() > deadline) throw new Error(`${tag}: ${(await count()) - before} of ${DEPENDANTS} triggers after 60 s\n${complaints(stack.processes).join("\n")}`);
        await sleep(2);
      }
      // The events stream's last entry id is the Redis time of the last trigger added.
      const [[lastId] = [""]] = (await stack.redisClient.xrevrange(`${KEY_PREFIX}:${QUEUES.trigger}:events`, "+", "-", "COUNT", 1)) as [string, string[]][];
      const lastAdded = Number(lastId.split("-")[0]);
      let job = await Job.fromId(events, deliveryJobId("github", id));
      while (!job?.finishedOn) {
        await sleep(20);
        job = await Job.fromId(events, deliveryJobId("github", id));
        if (Date.now() > deadline) throw new Error(`${tag}: the fan-out job did not finish`);
      }
      const [first] = await trigger.getJobs(["waiting"], 0, 0);
      return {
        ack: acked - sent,
        total: lastAdded - acked,
        pickup: job.processedOn! - acked,
        prepare: (first?.timestamp ?? Number.NaN) - job.processedOn!,
        add: lastAdded - (first?.timestamp ?? Number.NaN),
        job: job.finishedOn - job.processedOn!,
        reports: (await stack.jobCount("report")) - reportsBefore,
      };
    };

    /** The baseline: the tag's 1,000 jobs as the relay put them in Redis, added again with one addBulk. */
    const rawOnce = async (tag: string, rep: number) => {
      const jobs = (await trigger.getJobs(["waiting"], 0, DEPENDANTS - 1)).filter((j) => j.data.upstream?.tag === tag);
      if (jobs.length !== DEPENDANTS) throw new Error(`expected ${DEPENDANTS} trigger jobs of ${tag}, found ${jobs.length}`);
      const t0 = performance.now();
      await raw.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: { jobId: `raw${rep}-${j.id}` } })));
      return { ms: performance.now() - t0, bytes: jobs.reduce((a, j) => a + JSON.stringify(j.data).length, 0) / jobs.length };
    };

    // Warm-up (installation look-up, token, JIT), then relay and raw in turn, so both see the same moments of a busy machine.
    await fanOutOnce(tags[0]!);
    await rawOnce(tags[0]!, 0);
    const runs: Awaited<ReturnType<typeof fanOutOnce>>[] = [];
    const rawRuns: number[] = [];
    let bytes = 0;
    for (const [i, tag] of tags.slice(1, -1).entries()) {
      runs.push(await fanOutOnce(tag));
      const r = await rawOnce(tag, i + 1);
      rawRuns.push(r.ms);
      bytes = r.bytes;
    }

    // Then one more tag, and the report worker writing what it queued (no rate limit): its upstream checks and the commit's views.
    await report.obliterate({ force: true });
    await fanOutOnce(tags.at(-1)!);
    const drain = await drainReports(stack, report);

    const pick = (k: keyof (typeof runs)[number]) => median(runs.map((x) => x[k]));
    const spread = (xs: number[]) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;
    const total = pick("total");
    const rawMedian = median(rawRuns);
    const rows: Row[] = [
      { measure: `ack → all ${DEPENDANTS} trigger jobs in Redis (median of ${reps}; range)`, relay: `${ms(total)} (${spread(runs.map((x) => x.total))})`, baseline: `${ms(rawMedian)} (${spread(rawRuns)})`, ratio: times(total, rawMedian), target: "≤ 1.50×", met: total <= 1.5 * rawMedian },
      { measure: "… of which: the worker starts the fan-out job (after the ack; negative: before the answer reached the sender)", relay: ms(pick("pickup")) },
      { measure: `… tag resolved (GET ref), release recorded, ${DEPENDANTS} dependants matched, job data built`, relay: ms(pick("prepare")) },
      { measure: `… the relay's addBulk of the ${DEPENDANTS} triggers`, relay: ms(pick("add")), baseline: ms(rawMedian), ratio: times(pick("add"), rawMedian) },
      { measure: `the whole fan-out job (then also records ${DEPENDANTS} upstream checks and queues their reports)`, relay: ms(pick("job")) },
      { measure: "the delivery's own acknowledgement", relay: ms(pick("ack")) },
      { measure: `report jobs one tag queues (${DEPENDANTS} check syncs, the rest roll-up and comment recomputations)`, relay: String(pick("reports")) },
      { measure: "the report worker then writing one tag's (queue unpaused, no rate limit): time, Redis commands", relay: drain },
    ];
    return {
      id: "fanout",
      title: `2. Fan-out: one tag to ${DEPENDANTS} dependants`,
      baseline: `raw BullMQ addBulk of the same ${DEPENDANTS} jobs`,
      method: [
        `A generated map: 1 upstream, ${DEPENDANTS} GitHub dependants (\`trigger: { workflow: ci.yml }\`, tags \`v*\`). One web and one worker process`,
        "(`src/index.ts`, no write pacing); the trigger, report and sinks queues are paused (`Queue.pause()`), so only the fan-out runs, as",
        `nothing consumes the raw addBulk's jobs either. Per tag: the bench POSTs the delivery, takes the time of its acknowledgement, polls the`,
        `trigger queue's job counts until ${DEPENDANTS} more are there, and reads the Redis time of the last one added (the id of the queue's last`,
        "event); the worker's own times (when it started the fan-out job, when it built the trigger jobs) split the total. The baseline reads",
        `those ${DEPENDANTS} jobs back (${Math.round(bytes)} bytes of data each, same job options and ids) and adds them again with one \`addBulk\` to another queue.`,
      ].join("\n"),
      rows,
      notes: complaints(stack.processes),
    };
  } finally {
    await raw.close();
    await stack.stop();
  }
}

/** Unpauses the report queue and waits for it to empty (at most 120 s): time and Redis commands. */
async function drainReports(stack: Stack, report: Queue): Promise<string> {
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await stack.redisClient.info("stats"))?.[1]);
  const pending = async () => Object.values(await report.getJobCounts("waiting", "active", "delayed", "prioritized")).reduce((a, b) => a + b, 0);
  const [t0, c0] = [Date.now(), await commands()];
  await report.resume();
  let left = await pending();
  while (left > 0 && Date.now() - t0 < 120_000) {
    await sleep(200);
    left = await pending();
  }
  const seconds = (Date.now() - t0) / 1000;
  const used = ((await commands()) - c0).toLocaleString("en");
  return left > 0 ? `not done after 120 s (${left} jobs left); ${used} Redis commands so far` : `${seconds.toFixed(1)} s, ${used} Redis commands`;
}
