/**
 * npm run bench: how fast the relay acknowledges tag deliveries, and how long until the downstream
 * dispatch reaches GitHub. Runs the relay as `npm start` wires it (private redis-server, real HTTP,
 * default 1 s write pacing) against the fake GitHub of the tests. Prints a table for BENCHMARKS.md.
 */
import { performance } from "node:perf_hooks";
import { startHarness } from "../test/helpers/relay-harness.js";
import { COMMIT, UPSTREAM } from "../test/helpers/upstream.js";

const N = Number(process.env.BENCH_DELIVERIES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  const tags = Object.fromEntries(Array.from({ length: N + 1 }, (_, i) => [`v${i}`, { type: "commit" as const, sha: COMMIT }]));
  const h = await startHarness({
    map: `projects:\n  - id: hello\n    github: ${UPSTREAM}\n  - id: acme/app\n    github: acme/app\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: hello, tags: "v*" }]\n`,
    repos: { [UPSTREAM]: { installationId: 1, tags }, "acme/app": { installationId: 2, workflows: { "ci.yml": {} } } },
    env: { LOG_LEVEL: "warn", OPENCI_WRITE_INTERVAL_MS: "1000" },
  });
  try {
    // Warm-up, and the end-to-end time of one tag: acknowledgement → dispatch received by GitHub.
    const t0 = performance.now();
    const first = await h.send("push.tag", (p) => (p.ref = "refs/tags/v0"));
    const acked = performance.now();
    while (h.github.calls("actions/create-workflow-dispatch").length === 0) await new Promise((r) => setTimeout(r, 1));
    const dispatched = performance.now();
    if (first.status !== 200) throw new Error(`warm-up delivery got ${first.status}`);

    const latencies: number[] = [];
    let next = 1;
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next <= N) {
        const i = next++;
        const s = performance.now();
        const res = await h.send("push.tag", (p) => (p.ref = `refs/tags/v${i}`));
        latencies.push(performance.now() - s);
        if (res.status !== 200) throw new Error(`delivery ${i} got ${res.status}`);
      }
    }));
    const seconds = (performance.now() - started) / 1000;

    console.log(`| measure | value |\n|---|---|`);
    console.log(`| first tag: acknowledged after | ${ms(acked - t0)} |`);
    console.log(`| first tag: dispatch received by GitHub after | ${ms(dispatched - t0)} |`);
    console.log(`| ${N} deliveries, ${CONCURRENCY} concurrent: ack p50 | ${ms(pct(latencies, 50))} |`);
    console.log(`| ack p99 | ${ms(pct(latencies, 99))} |`);
    console.log(`| ack max | ${ms(Math.max(...latencies))} |`);
    console.log(`| deliveries acknowledged per second | ${(N / seconds).toFixed(0)} |`);
  } finally {
    await h.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
