/**
 * npm run bench:watch: many watched GitHub upstreams (public repositories the app is not installed
 * on, `watch: {}` in the map) against the fake GitHub, the relay in this process on a private Redis.
 * For each count: the GraphQL points and requests an hour the watcher spends, and the detection
 * latency (a tag created on the fake → the downstream's dispatch received by the fake).
 *
 *   BENCH_UPSTREAMS          counts to measure, default "1000,10000"
 *   BENCH_WATCH_INTERVAL_MS  the watch interval, default 300000 (5 minutes, the default of OPENCI_WATCH_INTERVAL_MS)
 *   BENCH_WATCH_CYCLES       intervals measured after the baselines, default 2
 *   BENCH_NEW_TAGS           tags created at random moments of the measured window, default 40
 *   BENCH_QUICK=1            a 20 s interval, 1 cycle, 200 and 1000 upstreams: checks the harness
 *
 * "An hour" is per interval × (3,600,000 ÷ the measured interval). Requests an interval depend on the
 * interval a little: due times are spread over it and claimed at each tick (every 5 s), so a batch
 * source's requests go out part empty unless the watcher fills them early (EARLY_FILL). Detection
 * latency is the wait for the next poll (up to one interval) plus the relay's own work; the target is
 * p95 within the measured interval plus 30 s, and the points an hour within 20 % of an installation's
 * 5,000. The relay reads OPENCI_WATCH_GITHUB_BATCH repositories a query (default 140: one point).
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { FakeRepo } from "../test/fakes/github/fake-github.js";
import { metric } from "../test/helpers/metrics.js";
import { startHarness } from "../test/helpers/relay-harness.js";
import { octoRepo } from "../test/helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM } from "../test/helpers/runs.js";

const QUICK = process.env.BENCH_QUICK === "1";
const COUNTS = (process.env.BENCH_UPSTREAMS ?? (QUICK ? "200,1000" : "1000,10000")).split(",").map(Number);
const INTERVAL = Number(process.env.BENCH_WATCH_INTERVAL_MS ?? (QUICK ? 20_000 : 300_000));
const CYCLES = Number(process.env.BENCH_WATCH_CYCLES ?? (QUICK ? 1 : 2));
const NEW_TAGS = Number(process.env.BENCH_NEW_TAGS ?? (QUICK ? 10 : 40));
const HOUR = 3_600_000;
const ADMIN_TOKEN = "bench-watch-admin-token";
const POINTS_PER_HOUR = 5_000;

const sha = (s: string) => createHash("sha1").update(s).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const repoOf = (i: number) => `watched-${i % 100}/lib-${i}`;

function mapOf(n: number): string {
  const lines = ["version: 2", "foundations: [{ id: f, name: F }]", "projects:"];
  for (let i = 0; i < n; i++) lines.push(`  - { id: u${i}, foundation: f, github: ${repoOf(i)}, watch: {} }`);
  lines.push("  - id: octo", "    foundation: f", `    github: ${EXAMPLE_DOWNSTREAM}`, "    trigger: { workflow: test.yml, ref: master }", "    depends_on:");
  for (let i = 0; i < n; i++) lines.push(`      - { project: u${i}, tags: "v*" }`);
  return `${lines.join("\n")}\n`;
}

interface Figures {
  upstreams: number;
  baselineSeconds: number;
  queriesPerInterval: number;
  pointsPerInterval: number;
  restPerInterval: number;
  detected: number;
  created: number;
  p50: number;
  p95: number;
  max: number;
}

async function measure(n: number): Promise<Figures> {
  const repos: Record<string, FakeRepo> = { [EXAMPLE_DOWNSTREAM]: octoRepo() };
  for (let i = 0; i < n; i++) {
    const c = sha(`c${i}`);
    repos[repoOf(i)] = { installationId: 900, installed: false, tags: { "v1.0.0": { type: "commit", sha: c } }, commitDates: { [c]: "2026-01-01T00:00:00Z" } };
  }
  const h = await startHarness({
    map: mapOf(n), repos,
    env: { OPENCI_WATCH_INTERVAL_MS: String(INTERVAL), OPENCI_WATCH_MIN_INTERVAL_MS: String(Math.min(INTERVAL, 10_000)), LOG_LEVEL: "warn", OPENCI_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  try {
    const t0 = performance.now();
    // The first look at every upstream is spread over one interval: the baselines.
    while ((await metric(h.url, "openci_watch_polls_total", { outcome: "baseline" })) < n) {
      if (performance.now() - t0 > INTERVAL * 3) throw new Error(`baselines not taken within 3 intervals (${await metric(h.url, "openci_watch_polls_total", { outcome: "baseline" })} of ${n})`);
      await sleep(500);
    }
    const baselineSeconds = (performance.now() - t0) / 1000;
    const before = {
      queries: h.github.calls("graphql").length,
      points: await metric(h.url, "openci_watch_github_points_total"),
      rest: h.github.calls("repos/list-tags").length,
    };
    const start = Date.now();
    const window = INTERVAL * CYCLES;
    // New tags at random moments of the window (deterministic spread), each on its own upstream.
    const created = new Map<string, number>();
    const plan = Array.from({ length: NEW_TAGS }, (_, k) => ({ i: Math.floor(((k * 7919) % n)), at: Math.floor(((k + 0.5) / NEW_TAGS) * (window - INTERVAL)) }));
    for (const { i, at } of plan) {
      const wait = start + at - Date.now();
      if (wait > 0) await sleep(wait);
      const repo = h.github.repos[repoOf(i)]!;
      const c = sha(`new${i}`);
      repo.tags = { ...repo.tags, "v2.0.0": { type: "commit", sha: c } };
      repo.commitDates = { ...repo.commitDates, [c]: new Date().toISOString() };
      created.set(`u${i}`, Date.now());
    }
    const rest = start + window - Date.now();
    if (rest > 0) await sleep(rest);
    const after = {
      queries: h.github.calls("graphql").length,
      points: await metric(h.url, "openci_watch_github_points_total"),
      rest: h.github.calls("repos/list-tags").length,
    };
    // Tags created in the last interval may still be on their way: give them one more interval.
    const deadline = Date.now() + INTERVAL + 30_000;
    const latencies = (): number[] => h.github.calls("actions/create-workflow-dispatch").flatMap((c) => {
      const at = created.get(String(c.body.inputs.openci_upstream));
      return at !== undefined && c.body.inputs.openci_tag === "v2.0.0" ? [c.at - at] : [];
    });
    while (latencies().length < created.size && Date.now() < deadline) await sleep(250);
    const l = latencies();
    if (l.length < created.size) await explainMissed(h, created, latencies);
    return {
      upstreams: n, baselineSeconds,
      queriesPerInterval: (after.queries - before.queries) / CYCLES,
      pointsPerInterval: (after.points - before.points) / CYCLES,
      restPerInterval: (after.rest - before.rest) / CYCLES,
      detected: l.length, created: created.size,
      p50: l.length ? pct(l, 50) / 1000 : Number.NaN, p95: l.length ? pct(l, 95) / 1000 : Number.NaN, max: l.length ? Math.max(...l) / 1000 : Number.NaN,
    };
  } finally {
    await h.stop();
  }
}

/** For each tag not dispatched in time: what the relay knows of its upstream, and the log lines that name it. */
async function explainMissed(h: Awaited<ReturnType<typeof startHarness>>, created: Map<string, number>, latencies: () => number[]): Promise<void> {
  const dispatched = new Set(h.github.calls("actions/create-workflow-dispatch").map((c) => String(c.body.inputs.openci_upstream)));
  const res = await fetch(`${h.url}/api/v1/watch`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const watched = res.ok ? ((await res.json()) as { upstreams: { id: string }[] }).upstreams : [];
  for (const [id, at] of created) {
    if (dispatched.has(id)) continue;
    const i = Number(id.slice(1));
    console.log(`missed: ${id} (${repoOf(i)}), tag made ${new Date(at).toISOString()}; watch: ${JSON.stringify(watched.find((w) => w.id === id) ?? "not listed")}`);
    for (const line of h.logs.filter((l) => l.includes(`"${id}"`) || l.includes(repoOf(i))).slice(-8)) console.log(`  ${line.trim().slice(0, 400)}`);
  }
  console.log(`(${latencies().length} of ${created.size} dispatched)`);
}

const perHour = HOUR / INTERVAL;
console.log(`bench:watch: ${COUNTS.join(", ")} watched GitHub upstreams, interval ${INTERVAL / 1000} s, ${CYCLES} interval(s) measured, ${NEW_TAGS} new tags`);
const rows: string[] = [];
for (const n of COUNTS) {
  const t = performance.now();
  const f = await measure(n);
  const pointsHour = f.pointsPerInterval * perHour;
  const budgetShare = (100 * pointsHour) / POINTS_PER_HOUR;
  const latencyTarget = INTERVAL / 1000 + 30;
  const line = `| ${n.toLocaleString("en")} | ${f.queriesPerInterval.toFixed(0)} GraphQL (${(f.queriesPerInterval * perHour).toFixed(0)} an hour), ${f.restPerInterval.toFixed(0)} REST | ${f.pointsPerInterval.toFixed(0)} (${pointsHour.toFixed(0)} an hour: ${budgetShare.toFixed(0)} % of 5,000) | ${f.detected} of ${f.created}: p50 ${f.p50.toFixed(1)} s, p95 ${f.p95.toFixed(1)} s, max ${f.max.toFixed(1)} s | p95 ≤ ${latencyTarget} s: ${f.p95 <= latencyTarget && f.detected === f.created ? "met" : "**not met**"}; points ≤ 20 % of 5,000: ${budgetShare <= 20 ? "met" : "**not met**"} | ${f.baselineSeconds.toFixed(0)} s |`;
  rows.push(line);
  console.log(`${n} upstreams (${((performance.now() - t) / 1000).toFixed(0)} s): ${line}`);
}
console.log([
  "",
  `| watched upstreams | requests an interval | GraphQL points an interval | detection (tag created → dispatch) | target | all baselines taken in |`,
  "|---|---|---|---|---|---|",
  ...rows,
].join("\n"));
process.exit(0);
