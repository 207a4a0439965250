/**
 * npm run bench:history: appending records to the history, reading a release back, exporting the
 * whole history as a CAR file and verifying it. A private redis-server; no forges involved.
 * BENCH_RECORDS (default 20000) records, as 1 release : 4 triggers : 8 run states per release.
 */
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { planExport, verifyCar } from "../src/history/car.js";
import { PartJoiner } from "../src/history/car-parts.js";
import { HistoryStore } from "../src/history/history-store.js";
import type { HistoryRecord } from "../src/history/record.js";
import { foldRuns } from "../src/history/release-view.js";
import { startTestRedis } from "../test/helpers/redis.js";

const N = Number(process.env.BENCH_RECORDS ?? 20_000);
const SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const redis = await startTestRedis();
const client = new Redis(redis.url);
const store = new HistoryStore(client);
try {
  const latencies: number[] = [];
  const t0 = performance.now();
  let made = 0;
  for (let r = 0; made < N; r++) {
    const tag = `v${r}`;
    const release = { project: "upstream", tag, sha: SHA };
    const one = async (record: HistoryRecord, key: string, head?: string) => {
      const s = performance.now();
      await store.append(record, { key, release, ...(head ? { head, expectHead: (await store.head(head))?.toString() ?? "" } : {}) });
      latencies.push(performance.now() - s);
      made++;
    };
    const at = new Date().toISOString();
    await one({ v: 1, kind: "release", at, project: "upstream", forge: "github", repo: "o/upstream", tag, sha: SHA, source: "push", artifacts: [`pkg:pypi/upstream@${r}`] }, `release|${tag}`);
    for (let d = 0; d < 4; d++) {
      const run = `trigger-${r}-${d}`;
      await one({ v: 1, kind: "trigger", at, upstream: "upstream", downstream: `d${d}`, run, attempt: 0, outcome: "triggered", pipeline: { kind: "workflow_dispatch", id: String(d), url: `https://github.com/o/d${d}/actions/runs/${r}` } }, `trigger|${run}`);
      for (const state of ["in_progress", "completed"] as const) {
        await one({ v: 1, kind: "run", at, upstream: "upstream", downstream: `d${d}`, run, forge: "github", repo: `o/d${d}`, runId: String(r), state, ...(state === "completed" ? { conclusion: d === 0 ? "failure" : "success" } : {}), failedJobs: [], artifacts: [], source: "workflow_run" } as HistoryRecord, `run|${run}|${state}`, run);
      }
    }
  }
  const appendMs = performance.now() - t0;

  const reads: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    foldRuns(await store.records(await store.ofRelease("upstream", `v${i}`)));
    reads.push(performance.now() - s);
  }

  const chunks: Uint8Array[] = [];
  const e0 = performance.now();
  const plan = await planExport(store, 0);
  await plan.write((c) => void chunks.push(c));
  const exportMs = performance.now() - e0;
  const car = Buffer.concat(chunks);

  // Time to the first byte: the whole history in one part (before) and one part of PART entries.
  const PART = Number(process.env.BENCH_PART ?? 10_000);
  const firstByte = async (maxEntries?: number) => {
    const s = performance.now();
    const p = await planExport(store, 0, maxEntries ? { maxEntries } : {});
    let at = 0;
    await p.write(() => void (at ||= performance.now() - s));
    return { at, next: p.next };
  };
  const wholeFirst = await firstByte();
  const partFirst = await firstByte(PART);
  // The parts one after another, joined as `openci-relay export` joins them.
  const j0 = performance.now();
  const joiner = new PartJoiner();
  let after: string | undefined;
  let parts = 0;
  do {
    const p = await planExport(store, 0, { maxEntries: PART, ...(after ? { after } : {}) });
    const partChunks: Uint8Array[] = [];
    await p.write((c) => void partChunks.push(c));
    await joiner.add((async function* () { yield Buffer.concat(partChunks); })());
    after = p.next;
    parts++;
  } while (after);
  const joined = await joiner.write(() => undefined);
  const joinMs = performance.now() - j0;
  const v0 = performance.now();
  const report = await verifyCar((async function* () { yield car; })());
  const verifyMs = performance.now() - v0;
  const info = await client.info("memory");
  const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);

  process.stdout.write(`| measure | value |\n|---|---|\n`
    + `| append ${made} records (one at a time) | ${(appendMs / 1000).toFixed(2)} s, ${Math.round(made / (appendMs / 1000))} records/s |\n`
    + `| append latency p50 / p99 | ${pct(latencies, 50).toFixed(2)} ms / ${pct(latencies, 99).toFixed(2)} ms |\n`
    + `| a release's view (13 records) p50 / p99 | ${pct(reads, 50).toFixed(2)} ms / ${pct(reads, 99).toFixed(2)} ms |\n`
    + `| export to CAR | ${(exportMs / 1000).toFixed(2)} s, ${(car.length / 1e6).toFixed(1)} MB |\n`
    + `| first byte of the export in one part / in parts of ${PART} | ${wholeFirst.at.toFixed(0)} ms / ${partFirst.at.toFixed(0)} ms |\n`
    + `| the export in ${parts} parts, joined | ${(joinMs / 1000).toFixed(2)} s, same root: ${joined.root.equals(plan.root)} |\n`
    + `| verify the CAR (${report.blocks} blocks) | ${(verifyMs / 1000).toFixed(2)} s, ${report.tampered.length} changed |\n`
    + `| Redis memory for the history | ${(used / 1e6).toFixed(1)} MB (${Math.round(used / made)} bytes per record) |\n`);
} finally {
  client.disconnect();
  await redis.cleanup();
}
