const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30m", "6h", "1d" → milliseconds (the map schema only lets such strings through). */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a duration such as 30m, 6h or 1d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** How long a downstream may take to report before its upstream check ends as timed_out. */
export const DEFAULT_TIMEOUT = "6h";
