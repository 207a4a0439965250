/** The p-th percentile (nearest rank) of some samples; NaN when there are none. */
export function pct(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]) => pct(samples, 50);

export const ms = (x: number) => (Number.isNaN(x) ? "–" : x < 10 ? `${x.toFixed(2)} ms` : x < 100 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`);
export const perS = (x: number) => (Number.isNaN(x) ? "–" : `${x < 10 ? x.toFixed(2) : Math.round(x)}/s`);
export const mb = (kb: number | undefined) => (kb === undefined ? "–" : `${Math.round(kb / 1024)} MB`);
/** relay ÷ baseline, as "1.23×". */
export const times = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : "–");

export const sleep = (msToWait: number) => new Promise<void>((r) => setTimeout(r, msToWait));
