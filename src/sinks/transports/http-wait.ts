import { setTimeout as sleep } from "node:timers/promises";

/**
 * Rate limits of the HTTP chat transports (Matrix, chat webhooks): how long a 429 asks to wait, and
 * a wait that close() can end.
 */

/** How long to wait after a 429 that does not say. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 1000;

/** RFC 9110 Retry-After (delay-seconds, or an HTTP date) in ms; undefined when absent, empty or unreadable. */
export function retryAfterHeaderMs(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Waits `ms` to respect a rate limit; `closing` aborting (the subscriber's close()) ends the wait with an error. */
export async function waitOutRateLimit(ms: number, closing: AbortSignal, sinkId: string): Promise<void> {
  await sleep(ms, undefined, { signal: closing }).catch(() => {
    throw new Error(`subscriber '${sinkId}': closed while waiting out a rate limit`);
  });
}
