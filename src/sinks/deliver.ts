import { createHmac } from "node:crypto";
import { UnrecoverableError, type Job } from "bullmq";
import type { Logger } from "pino";
import { toCDEvent } from "../history/cdevent.js";
import { binaryMessage } from "../history/cloudevent.js";
import type { HistoryReader, Reach } from "../history/history-reader.js";
import type { HistoryStore } from "../history/history-store.js";
import type { HistoryRecord } from "../history/record.js";
import { HoldJob } from "../queue/hold.js";
import { SinkJob } from "../queue/job-data.js";
import type { Redis } from "ioredis";
import { deliverChat } from "./chat/chat-delivery.js";
import { sinkMessage } from "./sink-message.js";
import { BROKER_KINDS } from "./sink-spec.js";
import type { SinkStats } from "./sink-stats.js";
import type { Sink, Sinks } from "./sinks.js";
import type { TransportPool } from "./transport-pool.js";

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
  /** the history as the API reads it: public (less projects hidden now) and all of it, for every kind of subscriber */
  readers: Record<Reach, HistoryReader>;
  /** broker and chat subscribers: their connections, and what a chat needs to tell a release's story */
  transports?: TransportPool;
  chat?: { redis: Redis; publicUrl: string | undefined };
}

/**
 * `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the sink's secret>`: the timestamp (Unix
 * seconds, also sent as X-OpenCI-Timestamp) is signed too, so a receiver can refuse old replays.
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** What a delivery did: the HTTP status, the broker published to, or the lines a chat said (none: nothing new to say). */
export type DeliveryResult =
  | { status: number; said?: never; published?: never; withheld?: never }
  | { said: string[]; status?: never; published?: never; withheld?: never }
  | { published: string; status?: never; said?: never; withheld?: never }
  | { withheld: "private"; status?: never; said?: never; published?: never };

/**
 * Delivers one record to one subscriber: an HTTP POST (CloudEvents binary mode, signed), a broker
 * message (MQTT, NATS, AMQP), or for a chat the lines it makes (a release's summary, a failure).
 * Anything but success is retried with backoff; after the sink's attempts the job stays failed: a
 * dead letter, listed and re-driven with `openci-relay sinks`.
 */
export async function processDelivery(job: Job, deps: DeliveryDeps, log: Logger): Promise<DeliveryResult> {
  const { sinkId, cid, scope } = SinkJob.parse(job.data);
  const sink = deps.sinks.get(sinkId);
  if (!sink) throw new UnrecoverableError(`subscriber '${sinkId}' is no longer configured (OPENCI_SINKS or the map's subscribers)`);
  // Read in the job's scope, and the private one only for a sink that accepts it: a public-only
  // sink's job (forged, or re-driven after the sink's setting changed) can never carry a private record.
  if (scope === "private" && !sink.private) throw new UnrecoverableError(`record ${cid} is private and subscriber '${sinkId}' does not say private: true`);
  if (sink.kind === "http" && !sink.secret) throw new UnrecoverableError(`subscriber '${sinkId}' has no secret: set ${sink.secretFrom}`);
  const record = await deps.history.inScope(scope).get(cid);
  if (!record) throw new UnrecoverableError(`record ${cid} is not in the ${scope} history`);
  deps.transports?.prune(new Set(deps.sinks.list().map((s) => s.id)));
  // A project made private since the record was written (while this delivery waited, or a dead
  // letter re-driven later) is not sent to a public subscriber, as the stream and the API hide it.
  if (!sink.private && (await deps.readers.public.visible([{ cid, record }])).length === 0) {
    log.info({ sink: sinkId, cid }, "record names a project that is private now: not sent to this subscriber");
    return { withheld: "private" };
  }

  const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  try {
    const result = await send(sink, cid, record, job, deps, log);
    await deps.stats.delivered(sinkId);
    return result;
  } catch (error) {
    // An UnrecoverableError (a variable not set, a refused password) is a dead letter at once.
    if (!(error instanceof HoldJob)) await deps.stats.failedAttempt(sinkId, last || error instanceof UnrecoverableError);
    throw error;
  }
}

async function send(sink: Sink, cid: string, record: HistoryRecord, job: Job, deps: DeliveryDeps, log: Logger): Promise<DeliveryResult> {
  if (sink.kind === "http") return post(sink, cid, record, job, deps, log);
  if (!deps.transports) throw new Error(`subscriber '${sink.id}' (${sink.kind}): this worker has no broker or chat connections`);
  if (BROKER_KINDS.has(sink.kind)) {
    await deps.transports.load(sink.kind);
    await deps.transports.broker(sink).publish(sinkMessage(cid, record, deps.eventSource, deps.sinks.map()));
    log.debug({ sink: sink.id, cid, kind: sink.kind }, "event published");
    return { published: sink.kind };
  }
  if (!deps.chat) throw new Error(`subscriber '${sink.id}' (${sink.kind}): this worker cannot read the history for a chat`);
  const reader = deps.readers[sink.private ? "all" : "public"];
  await deps.transports.load(sink.kind);
  const said = await deliverChat(sink, cid, record, deps.transports.chat(sink), { redis: deps.chat.redis, reader, everything: deps.readers.all, publicUrl: deps.chat.publicUrl }, log);
  return { said };
}

/** POSTs one CDEvent to one HTTP subscriber in CloudEvents binary mode, signed. */
async function post(sink: Sink, cid: string, record: HistoryRecord, job: Job, deps: DeliveryDeps, log: Logger): Promise<{ status: number }> {
  const { headers, body } = binaryMessage(toCDEvent(cid, record, deps.eventSource));
  let status: number;
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const res = await fetch(sink.url, {
      method: "POST",
      headers: {
        ...headers, [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: sign(sink.secret!, timestamp, body),
        [DELIVERY_HEADER]: String(job.id), "user-agent": "openci-relay",
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    status = res.status;
    await res.body?.cancel();
  } catch (error) {
    throw new Error(`POST ${sink.url} failed: ${(error as Error).message}`);
  }
  if (status < 200 || status > 299) throw new Error(`POST ${sink.url} answered ${status}`);
  log.debug({ sink: sink.id, cid, status }, "event delivered");
  return { status };
}
