import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Job, Queue, Worker } from "bullmq";
import { deliveryJobId } from "../src/queue/job-ids.js";
import { KEY_PREFIX, QUEUES } from "../src/queue/names.js";
import { JOB_OPTIONS } from "../src/queue/queues.js";
import { post, tagDeliveries } from "./lib/deliveries.js";
import type { BenchOptions } from "./lib/options.js";
import { complaints, cpuMs } from "./lib/processes.js";
import { countCommands, type Counted } from "./lib/redis-commands.js";
import type { Row, Section } from "./lib/report.js";
import { NO_RATE_LIMIT, Stack } from "./lib/stack.js";
import { median, ms, sleep, times } from "./lib/stats.js";
import { downstreamRepos, tagNames, topology, UPSTREAM_INSTALLATION } from "./lib/topology.js";
import { UPSTREAM } from "../test/helpers/upstream.js";
import { RELAY_RUNS } from "./lib/built.js";

const DEPENDANTS = 1000;

/**
 * 2. Fan-out: one tag to 1,000 dependants, from the delivery's acknowledgement to all 1,000 trigger
 * jobs in Redis, beside a raw BullMQ `addBulk` of the same 1,000 jobs (their data read back from
 * the relay's queue) on the same Redis. One web and one worker process.
 */
export async function fanout(o: BenchOptions): Promise<Section> {
  const reps = o.quick ? 2 : 7;
  const tags = tagNames(reps + 3);
  const { map, repos } = topology(downstreamRepos(DEPENDANTS), tags);
  // No settle time: the report drain below times the 1,000 checks' writes, not a wait before them
  // (each check has one state here, so settling would join nothing).
  const stack = await Stack.start("fanout", { map, repos, env: { ...NO_RATE_LIMIT, OPENCI_REPORT_SETTLE_MS: "0", OPENCI_MAX_TRIGGERS_PER_EVENT: String(2 * DEPENDANTS) }, cpuProfDir: o.cpuProfDir });
  const raw = new Queue("bench-raw-addbulk", { connection: stack.redisClient, prefix: KEY_PREFIX, defaultJobOptions: JOB_OPTIONS.trigger });
  try {
    const web = await stack.startWeb();
    const [worker] = await stack.startWorkers(1);
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
    for (const [i, tag] of tags.slice(1, -2).entries()) {
      runs.push(await fanOutOnce(tag));
      const r = await rawOnce(tag, i + 1);
      rawRuns.push(r.ms);
      bytes = r.bytes;
    }

    // Then one more tag, and the report worker writing what it queued (no rate limit): its upstream checks and the commit's views;
    // then another, its Redis commands counted with MONITOR (which slows Redis: not the timed one).
    await report.obliterate({ force: true });
    await fanOutOnce(tags.at(-2)!);
    const drain = await drainReports(stack, report, worker!.child.pid);
    await report.obliterate({ force: true });
    const { reports } = await fanOutOnce(tags.at(-1)!);
    const counted = await countCommands(stack, () => drainReports(stack, report, worker!.child.pid));
    const bare = await bareJobs(stack, reports);
    const perJob = (n: number, jobs: number) => (n / jobs).toFixed(1);
    const viewReads = counted.byName.get("hgetall") ?? 0;
    const syncs = stack.github.requests.filter((r) => r.operationId === "checks/create").slice(-DEPENDANTS);
    const bareReporter = await bareReports(stack, syncs.map((r) => r.body as Record<string, unknown>));

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
      { measure: "the report worker then writing one tag's (queue unpaused, no rate limit): time, worker CPU", relay: `${ms(drain.ms)}, ${ms(drain.cpuMs)} CPU`, baseline: `${ms(bareReporter.ms)}, ${ms(bareReporter.cpuMs)} CPU (bare Probot + BullMQ worker creating the same ${syncs.length} check runs, concurrency 16)`, ratio: times(drain.cpuMs, bareReporter.cpuMs), target: "CPU ≤ 500 ms", met: drain.cpuMs <= 500 },
      { measure: "… Redis commands a report job sends (round trips' commands; BullMQ's taking and finishing included)", relay: perJob(counted.sent, reports), baseline: `${perJob(bare.sent, bare.jobs)} (a no-op BullMQ job)`, ratio: times(counted.sent / reports, bare.sent / bare.jobs), target: "≤ 10", met: counted.sent / reports <= 10 },
      { measure: "… Redis commands run for a report job, those inside scripts included (BullMQ's and the relay's)", relay: perJob(counted.sent + counted.inScripts, reports), baseline: perJob(bare.sent + bare.inScripts, bare.jobs), ratio: times(counted.sent + counted.inScripts, ((bare.sent + bare.inScripts) / bare.jobs) * reports) },
      { measure: "… of which the roll-up's and comment's reads of their members (one HGETALL a member, in one pipeline a view)", relay: perJob(viewReads, reports) },
      { measure: "… a check sync: commands sent (the rest, a sync each)", relay: perJob(counted.sent - viewReads, reports), target: "≤ 10", met: (counted.sent - viewReads) / reports <= 10 },
      { measure: "… the relay's report-job commands by name (sent, over the tag)", relay: counted.top },
    ];
    return {
      id: "fanout",
      title: `2. Fan-out: one tag to ${DEPENDANTS} dependants`,
      baseline: `raw BullMQ addBulk of the same ${DEPENDANTS} jobs`,
      method: [
        `A generated map: 1 upstream, ${DEPENDANTS} GitHub dependants (\`trigger: { workflow: ci.yml }\`, tags \`v*\`). One web and one worker process`,
        `(${RELAY_RUNS}, no write pacing, no settle time); the trigger, report and sinks queues are paused (\`Queue.pause()\`), so only the fan-out runs, as`,
        `nothing consumes the raw addBulk's jobs either. Per tag: the bench POSTs the delivery, takes the time of its acknowledgement, polls the`,
        `trigger queue's job counts until ${DEPENDANTS} more are there, and reads the Redis time of the last one added (the id of the queue's last`,
        "event); the worker's own times (when it started the fan-out job, when it built the trigger jobs) split the total. The baseline reads",
        `those ${DEPENDANTS} jobs back (${Math.round(bytes)} bytes of data each, same job options and ids) and adds them again with one \`addBulk\` to another queue.`,
        "Then one more tag's report jobs are run (the report queue resumed, no rate limit), timed with the worker's CPU, beside a bare",
        "Probot + BullMQ worker (bench/bare-probot.ts, concurrency 16) creating the same check runs through Octokit; and another tag's,",
        "its Redis commands counted with MONITOR on a socket of its own (the bench's own connection left out; commands run inside",
        "scripts counted apart), beside a no-op BullMQ worker taking as many jobs.",
      ].join("\n"),
      rows,
      notes: complaints(stack.processes),
    };
  } finally {
    await raw.close();
    await stack.stop();
  }
}

/** Unpauses the report queue and waits for it to empty (at most 120 s): wall time and the worker's CPU time. */
async function drainReports(stack: Stack, report: Queue, workerPid: number | undefined): Promise<{ ms: number; cpuMs: number }> {
  const [t0, cpu0] = [performance.now(), cpuMs(workerPid)];
  await report.resume();
  await stack.drained("report", 120_000, 20);
  await report.pause();
  return { ms: performance.now() - t0, cpuMs: cpuMs(workerPid) - cpu0 };
}

/** The baseline: `jobs` no-op jobs through a BullMQ worker of the report queue's concurrency, on the same Redis. */
async function bareJobs(stack: Stack, jobs: number): Promise<Counted & { jobs: number }> {
  const name = `bench-bare-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(name, { connection: stack.redisClient, prefix: KEY_PREFIX });
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: "sync", data: { checkKey: String(i) }, opts: { ...JOB_OPTIONS.report, jobId: `bare-${i}` } })));
  const connection = stack.redisClient.duplicate({ maxRetriesPerRequest: null });
  let done = 0;
  let worker: Worker | undefined;
  const counted = await countCommands(stack, async () => {
    worker = new Worker(name, async () => "done", { connection, prefix: KEY_PREFIX, concurrency: 16 });
    worker.on("completed", () => done++);
    const t0 = performance.now();
    while (done < jobs && performance.now() - t0 < 60_000) await sleep(20);
    await worker.close();
  });
  await queue.obliterate({ force: true });
  await queue.close();
  await connection.quit();
  return { ...counted, jobs };
}

/** The baseline of the check syncs: a bare Probot + BullMQ worker process creating the same check runs: wall time and its CPU. */
async function bareReports(stack: Stack, bodies: Record<string, unknown>[]): Promise<{ ms: number; cpuMs: number }> {
  const reporter = await stack.startBare("reporter", { INSTALLATION_ID: String(UPSTREAM_INSTALLATION), UPSTREAM });
  const queue = new Queue("bare-report", { connection: stack.redisClient, prefix: "{bare}" });
  try {
    // Warm-up (token, JIT), as the relay's worker is warm by its earlier tags.
    const created = () => stack.github.requests.filter((r) => r.operationId === "checks/create").length;
    const waitFor = async (n: number) => {
      const t0 = performance.now();
      while (created() < n) {
        if (performance.now() - t0 > 120_000) throw new Error(`the bare reporter created ${created()} of ${n} check runs in 120 s`);
        await sleep(20);
      }
    };
    const before = created();
    await queue.addBulk(bodies.slice(0, 50).map((body, i) => ({ name: "sync", data: { body }, opts: { jobId: `warm-${i}`, removeOnComplete: true } })));
    await waitFor(before + 50);
    await sleep(200);
    const [t0, cpu0] = [performance.now(), cpuMs(reporter.child.pid)];
    await queue.addBulk(bodies.map((body, i) => ({ name: "sync", data: { body }, opts: { jobId: `run-${i}`, removeOnComplete: true } })));
    await waitFor(before + 50 + bodies.length);
    return { ms: performance.now() - t0, cpuMs: cpuMs(reporter.child.pid) - cpu0 };
  } finally {
    await queue.close();
  }
}
