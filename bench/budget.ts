import type { WriteRecord } from "./forge-conditions.js";
import { post, tagDeliveries } from "./lib/deliveries.js";
import { paced } from "./lib/load.js";
import type { BenchOptions } from "./lib/options.js";
import { complaints } from "./lib/processes.js";
import type { Row, Section } from "./lib/report.js";
import { Stack } from "./lib/stack.js";
import { sleep, times } from "./lib/stats.js";
import { DOWNSTREAM_INSTALLATION, UPSTREAM_INSTALLATION, downstreamRepos, tagNames, topology } from "./lib/topology.js";

const BUDGET = 80;
const DEPENDANTS = 4;
const TAGS_PER_SECOND = 0.5;

/**
 * 4. Under a rate-limit budget: the forge enforces GitHub's secondary limit (80 content writes a
 * minute per installation, 403 + retry-after beyond it; bench/forge-conditions.ts) while the relay
 * runs with its defaults (OPENCI_GITHUB_WRITES_PER_MINUTE=80, 1 s write pacing per installation),
 * offered more work than the budget allows. Once with one worker process, once with two.
 */
export async function budget(o: BenchOptions): Promise<Section> {
  const seconds = o.quick ? 15 : 150;
  const configs = o.quick ? [1] : [1, 2];
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const workers of configs) {
    const n = Math.round(TAGS_PER_SECOND * seconds);
    const { map, repos } = topology(downstreamRepos(DEPENDANTS), tagNames(n));
    const stack = await Stack.start("budget", { map, repos, forge: { writesPerMinute: BUDGET }, cpuProfDir: o.cpuProfDir });
    try {
      const web = await stack.startWeb();
      await stack.startWorkers(workers);
      const sign = tagDeliveries();
      const start = Date.now();
      await paced(TAGS_PER_SECOND, seconds, async (i) => {
        await post(web.url, sign(`v${i}`));
      });
      const end = Date.now();
      await sleep(1000); // writes in flight land
      const proxy = stack.proxy!;
      const during = (w: WriteRecord) => w.at >= start && w.at <= end;
      const minutes = (end - start) / 60_000;
      const label = `${workers} worker process${workers > 1 ? "es" : ""}`;
      for (const [installation, what] of [[DOWNSTREAM_INSTALLATION, "dispatches"], [UPSTREAM_INSTALLATION, "check runs"]] as const) {
        const writes = proxy.writes.filter((w) => w.installation === installation && during(w));
        const perMinute = writes.length / minutes;
        rows.push({
          measure: `${label}: writes a minute, installation ${installation} (${what}), mean over ${Math.round(seconds)} s`,
          relay: perMinute.toFixed(1), baseline: `${BUDGET} (the budget)`, ratio: times(perMinute, BUDGET), target: "= budget", met: perMinute >= 0.95 * BUDGET,
        });
      }
      const limited = proxy.limited.length;
      rows.push(
        { measure: `${label}: busiest 60 s of one installation`, relay: String(busiest(proxy.writes)), baseline: String(BUDGET), ratio: times(busiest(proxy.writes), BUDGET), target: "≤ budget", met: busiest(proxy.writes) <= BUDGET },
        { measure: `${label}: secondary-limit 403s provoked`, relay: String(limited), baseline: "0", target: "0", met: limited === 0 },
      );
      const dispatched = stack.github.calls("actions/create-workflow-dispatch").length;
      notes.push(`${label}: ${n} tags (${n * DEPENDANTS} dispatches) offered in ${seconds} s; ${dispatched} dispatched by the end of the load (the rest still queued).`);
      notes.push(...complaints(stack.processes));
    } finally {
      await stack.stop();
    }
  }
  return {
    id: "budget",
    title: `4. Under a rate-limit budget (${BUDGET} writes a minute per installation)`,
    baseline: "the forge's budget",
    method: [
      `The fake GitHub behind bench/forge-conditions.ts, which counts content writes (not GET, not token requests) per installation over a`,
      `sliding 60 s window and answers the ${BUDGET + 1}st with 403 and \`retry-after\`, as GitHub's secondary limit does. ${TAGS_PER_SECOND} tags a second for`,
      `${seconds} s, each to ${DEPENDANTS} dependants on one installation: ${TAGS_PER_SECOND * DEPENDANTS * 60} dispatches a minute offered, more than the budget; the upstream's`,
      "installation gets the check-run writes. The relay runs with its defaults for GitHub's limits (`OPENCI_GITHUB_WRITES_PER_MINUTE=80`,",
      "`OPENCI_GITHUB_POINTS_PER_MINUTE=900`, `OPENCI_WRITE_INTERVAL_MS=1000`), one web process and one or two worker processes.",
    ].join("\n"),
    rows,
    notes,
  };
}

/** The most writes one installation made in any 60 s. */
function busiest(writes: WriteRecord[]): number {
  let most = 0;
  for (const installation of new Set(writes.map((w) => w.installation))) {
    const at = writes.filter((w) => w.installation === installation).map((w) => w.at);
    for (let i = 0, j = 0; j < at.length; j++) {
      while (at[j]! - at[i]! >= 60_000) i++;
      most = Math.max(most, j - i + 1);
    }
  }
  return most;
}
