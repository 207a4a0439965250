import { createHmac } from "node:crypto";
import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { toCDEvent } from "../history/cdevent.js";
import { binaryMessage } from "../history/cloudevent.js";
import type { HistoryStore } from "../history/history-store.js";
import { SinkJob } from "../queue/job-data.js";
import type { SinkStats } from "./sink-stats.js";
import type { Sinks } from "./sinks.js";

export const SIGNATURE_HEADER = "x-openci-signature-256";
export const DELIVERY_HEADER = "x-openci-delivery";
export const TIMESTAMP_HEADER = "x-openci-timestamp";
const TIMEOUT_MS = 10_000;

export interface DeliveryDeps {
  /** the history (its public scope; private records are read only for sinks that accept them) */
  history: HistoryStore;
  sinks: Sinks;
  stats: SinkStats;
  /** the CDEvents `source` of the relay's events */
  eventSource: string;
}

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the sink's secret>`: the timestamp (Unix
 * seconds, also sent as X-OpenCI-Timestamp) is signed too, so a receiver can refuse old replays.
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * POSTs one CDEvent to one subscriber in CloudEvents binary mode, signed. Anything but a 2xx is
 * retried with backoff; after the sink's attempts the job stays failed: a dead letter, listed and
 * re-driven with `openci-relay sinks`.
 */
export async function processDelivery(job: Job, deps: DeliveryDeps, log: Logger): Promise<{ status: number }> {
  const { sinkId, cid, scope } = SinkJob.parse(job.data);
  const sink = deps.sinks.get(sinkId);
  if (!sink) throw new UnrecoverableError(`subscriber '${sinkId}' is no longer configured (OPENCI_SINKS or the map's subscribers)`);
  if (!sink.secret) throw new UnrecoverableError(`subscriber '${sinkId}' has no secret: set ${sink.secretFrom}`);
  // Read in the job's scope, and the private one only for a sink that accepts it: a public-only
  // sink's job (forged, or re-driven after the sink's setting changed) can never carry a private record.
  if (scope === "private" && !sink.private) throw new UnrecoverableError(`record ${cid} is private and subscriber '${sinkId}' does not say private: true`);
  const record = await deps.history.inScope(scope).get(cid);
  if (!record) throw new UnrecoverableError(`record ${cid} is not in the ${scope} history`);

  const { headers, body } = binaryMessage(toCDEvent(cid, record, deps.eventSource));
  let status: number;
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const res = await fetch(sink.url, {
      method: "POST",
      headers: {
        ...headers, [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: sign(sink.secret, timestamp, body),
        [DELIVERY_HEADER]: String(job.id), "user-agent": "openci-relay",
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (error) {
    await deps.stats.failedAttempt(sinkId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    throw new Error(`POST ${sink.url} failed: ${(error as Error).message}`);
  }
  if (status < 200 || status > 299) {
    await deps.stats.failedAttempt(sinkId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
    throw new Error(`POST ${sink.url} answered ${status}`);
  }
  await deps.stats.delivered(sinkId);
  log.debug({ sink: sinkId, cid, status }, "event delivered");
  return { status };
}
