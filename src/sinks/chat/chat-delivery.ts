import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { HistoryReader } from "../../history/history-reader.js";
import type { HistoryRecord } from "../../history/record.js";
import { foldRuns } from "../../history/release-view.js";
import { HoldJob } from "../../queue/hold.js";
import { key } from "../../queue/names.js";
import type { ChatTransport } from "../transport.js";
import { chatLines, type ReleaseState } from "./chat-lines.js";

/** How long telling a subscriber about a release holds its lock: longer than a few lines' transport timeouts (IRC waits up to 60 s a line). */
const TELLING_MS = 180_000;
/** How long a said line is remembered: well past any retry or re-run of its release. */
const SAID_MS = 30 * 24 * 3600_000;

export interface ChatDeliveryDeps {
  redis: Redis;
  /** the history as this subscriber may see it: public, or all of it for a `private: true` one */
  reader: HistoryReader;
  /** OPENCI_PUBLIC_URL: the dashboard's release page is linked from each line */
  publicUrl: string | undefined;
}

/** Another delivery is telling this subscriber about the same release right now: this one waits in the queue (no attempt spent), then decides again. */
export class ReleaseBusyError extends HoldJob {}
const BUSY_HOLD_MS = 500;

/**
 * What one history record makes a chat subscriber say (chat-lines.ts), each line at most once per
 * subscriber. One delivery at a time tells a subscriber about one release (a lock in Redis), and
 * decides what to say from the release as it is then: two records ending a release at once (two
 * workers) give one summary, and a failure handled after the summary is not said again. A line is
 * marked said only after the transport accepted it, so a delivery that dies half-way says what is
 * left on its retry. Returns the lines said now.
 */
export async function deliverChat(
  sink: { id: string; events: ReadonlySet<string> | undefined },
  cid: string,
  record: HistoryRecord,
  transport: ChatTransport,
  deps: ChatDeliveryDeps,
  log: Logger,
): Promise<string[]> {
  if (record.kind === "release" || !record.release) return [];
  const releaseCid = record.release.toString();
  const holder = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const lock = key("chat-telling", sink.id, releaseCid);
  if ((await deps.redis.set(lock, holder, "PX", TELLING_MS, "NX")) !== "OK") {
    throw new ReleaseBusyError(`subscriber '${sink.id}' is being told about this release by another delivery; this one waits for it`, BUSY_HOLD_MS);
  }
  try {
    const release = await releaseState(releaseCid, deps);
    if (!release) return [];
    const said = (k: string) => key("chat-said", sink.id, k);
    const summarySaid = (await deps.redis.exists(said(`summary|${releaseCid}`))) === 1;
    const out: string[] = [];
    for (const line of chatLines(cid, record, release, { failures: sink.events?.has("failures") ?? false, summarySaid })) {
      if (await deps.redis.exists(said(line.key))) continue;
      await transport.say(line);
      await deps.redis.set(said(line.key), cid, "PX", SAID_MS);
      out.push(line.text);
      log.debug({ sink: sink.id, cid, key: line.key }, "chat line said");
    }
    return out;
  } finally {
    // Only our own hold is released: one that outlived TELLING_MS may be another delivery's by now.
    if ((await deps.redis.get(lock)) === holder) await deps.redis.del(lock);
  }
}

/** The release a record belongs to, with its downstreams as this subscriber may see them. */
async function releaseState(releaseCid: string, deps: ChatDeliveryDeps): Promise<ReleaseState | undefined> {
  const [rel] = await deps.reader.records([releaseCid]);
  if (!rel || rel.record.kind !== "release") return undefined;
  const { project, tag } = rel.record;
  // The tag's records, less those of another commit it named before or since (another release).
  const all = await deps.reader.records(await deps.reader.store.ofRelease(project, tag));
  const mine = all.filter(({ cid, record: r }) => (r.kind === "release" ? cid === releaseCid : r.release?.toString() === releaseCid));
  const { downstreams } = foldRuns(mine);
  const link = deps.publicUrl ? `${deps.publicUrl}/releases/${encodeURIComponent(project)}/${encodeURIComponent(tag)}` : undefined;
  return { releaseCid, project, tag, downstreams, link };
}
