import autocannon from "autocannon";
import type { SignedDelivery } from "./deliveries.js";
import { sleep } from "./stats.js";

export interface LoadResult {
  /** 2xx answers */
  ok: number;
  /** other answers, connection errors and timeouts */
  failed: number;
  seconds: number;
  /** 2xx answers per second */
  rate: number;
  /** each 2xx answer's latency, ms (sent → answer complete) */
  latencies: number[];
}

export interface CannonOptions {
  connections: number;
  seconds: number;
  /** hold this many requests a second overall (autocannon's overallRate) */
  rate?: number | undefined;
  /** the next delivery to send: each one a distinct delivery id and tag */
  next: () => SignedDelivery;
}

/**
 * Closed-loop HTTP load with autocannon: `connections` keep one delivery in flight each. With
 * `rate`, autocannon gives each connection its share of the second's requests and sends them back
 * to back from the start of each second, then waits for the next: bursts, not evenly spaced arrivals.
 * Latencies are taken from each response (autocannon's own histogram "corrects" rate-limited runs
 * with a 1 ms expected interval, and keeps whole milliseconds).
 */
export function cannon(url: string, o: CannonOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let failed = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/api/github/webhooks`,
        connections: o.connections,
        duration: o.seconds,
        ...(o.rate ? { overallRate: o.rate, ignoreCoordinatedOmission: true } : {}),
        timeout: 30,
        requests: [{
          method: "POST",
          setupRequest: (request) => {
            const d = o.next();
            return { ...request, headers: d.headers, body: d.body };
          },
        }],
      },
      (err, result) => {
        if (err) return reject(err);
        failed += result.errors + result.timeouts;
        resolve({ ok: latencies.length, failed, seconds: result.duration, rate: latencies.length / result.duration, latencies });
      },
    );
    instance.on("response", (_client, status, _bytes, responseTime) => {
      if (status >= 200 && status < 300) latencies.push(responseTime);
      else failed++;
    });
  });
}

/**
 * Open-loop load: calls `send(i)` at `perSecond` evenly spaced instants for `seconds`, whether or
 * not earlier calls have been answered (as GitHub sends deliveries), and waits for all of them.
 */
export async function paced(perSecond: number, seconds: number, send: (i: number) => Promise<void>): Promise<void> {
  const total = Math.round(perSecond * seconds);
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(send(i));
  }
  await Promise.all(inFlight);
}
