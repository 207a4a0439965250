import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { HistoryReader } from "../../history/history-reader.js";
import type { HistoryRecord } from "../../history/record.js";
import { foldRuns } from "../../history/release-view.js";
import { HoldJob } from "../../queue/hold.js";
import { key } from "../../queue/names.js";
import type { ChatTransport } from "../transport.js";
import { ReleasePlan } from "../../history/release-plan.js";
import { allEnded, chatLines, type ReleaseState } from "./chat-lines.js";

/** How long telling a subscriber about a release holds its lock: longer than a few lines' transport timeouts (IRC waits up to 60 s a line). */
const TELLING_MS = 180_000;
/** How long a said line is remembered: well past any retry or re-run of its release. */
const SAID_MS = 30 * 24 * 3600_000;

export interface ChatDeliveryDeps {
  redis: Redis;
  /** the history as this subscriber may see it: public, or all of it for a `private: true` one */
  reader: HistoryReader;
  /** all of the history: whether every downstream has ended counts those the subscriber may not see */
  everything: HistoryReader;
  /**
   * How long a summary waits once the release looks ended before it is said (default 2 s): a passing
   * run's record is written a moment before its cascade is planned, so the release may grow again.
   */
  settleMs?: number;
  /** OPENCI_PUBLIC_URL: the dashboard's release page is linked from each line */
  publicUrl: string | undefined;
}

/** Another delivery is telling this subscriber about the same release right now: this one waits in the queue (no attempt spent), then decides again. */
export class ReleaseBusyError extends HoldJob {}
const BUSY_HOLD_MS = 500;
const SETTLE_MS = 2000;
/** Deletes the lock only if it is still ours, in one step (a GET then a DEL could delete another's taken in between). */
const RELEASE_OWN = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/**
 * What one history record makes a chat subscriber say (chat-lines.ts), each line at most once per
 * subscriber. One delivery at a time tells a subscriber about one release (a lock in Redis), and
 * decides what to say from the release as it is then: two records ending a release at once (two
 * workers) give one summary, and a failure handled after the summary is not said again. A line is
 * marked said only after the transport accepted it, so a delivery that dies half-way says what is
 * left on its retry. Returns the lines said now.
 */
export async function deliverChat(
  sink: { id: string; events: ReadonlySet<string> | undefined; projects?: ReadonlySet<string> | undefined },
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
    // `projects:` of a chat is about releases: their upstream or any of their downstreams.
    if (sink.projects && ![release.project, ...release.downstreams.map((d) => d.project)].some((p) => sink.projects!.has(p))) return [];
    const said = (k: string) => key("chat-said", sink.id, k);
    const summarySaid = (await deps.redis.exists(said(`summary|${releaseCid}`))) === 1;
    const complete = await allPlannedEnded(releaseCid, deps);
    const lines = chatLines(cid, record, release, { failures: sink.events?.has("failures") ?? false, summarySaid, complete: complete !== undefined });
    const summary = lines.find((l) => l.summary);
    if (summary && complete !== undefined && (deps.settleMs ?? SETTLE_MS) > 0) {
      // Said once the release has looked the same for settleMs: a cascade planned meanwhile makes it wait again.
      const settled = key("chat-settled", sink.id, releaseCid);
      if ((await deps.redis.get(settled)) !== complete) {
        await deps.redis.set(settled, complete, "PX", SAID_MS);
        throw new ReleaseBusyError(`subscriber '${sink.id}': the release looks ended; its summary waits a moment for a cascade`, deps.settleMs ?? SETTLE_MS);
      }
    }
    const out: string[] = [];
    for (const line of lines) {
      if (await deps.redis.exists(said(line.key))) continue;
      await transport.say(line);
      await deps.redis.set(said(line.key), cid, "PX", SAID_MS);
      out.push(line.text);
      log.debug({ sink: sink.id, cid, key: line.key }, "chat line said");
    }
    return out;
  } finally {
    // Only our own hold is released: one that outlived TELLING_MS may be another delivery's by now.
    await deps.redis.eval(RELEASE_OWN, 1, lock, holder);
  }
}

/** The records of one release (a tag moved to another commit is another release), as `reader` may see them. */
async function releaseRecords(releaseCid: string, reader: HistoryReader, project: string, tag: string) {
  const all = await reader.records(await reader.store.ofRelease(project, tag));
  return all.filter(({ cid, record: r }) => (r.kind === "release" ? cid === releaseCid : r.release?.toString() === releaseCid));
}

/**
 * Whether every downstream the release was handed to (its plan, and any the history shows) has
 * ended, counted in all of the history: a fingerprint of them when so (to notice the release growing
 * while a summary settles), else undefined.
 */
async function allPlannedEnded(releaseCid: string, deps: ChatDeliveryDeps): Promise<string | undefined> {
  const [rel] = await deps.everything.records([releaseCid]);
  if (!rel || rel.record.kind !== "release") return undefined;
  const { project, tag, sha } = rel.record;
  const { downstreams } = foldRuns(await releaseRecords(releaseCid, deps.everything, project, tag));
  const expected = new Set([...(await new ReleasePlan(deps.redis).downstreams(project, tag, sha)), ...downstreams.map((d) => d.project)]);
  const seen = new Map(downstreams.map((d) => [d.project, d]));
  if (![...expected].every((id) => seen.has(id)) || !allEnded(downstreams)) return undefined;
  return [...expected].sort().map((id) => `${id}:${seen.get(id)!.cid}`).join(",");
}

/** The release a record belongs to, with its downstreams as this subscriber may see them; none for code under review. */
async function releaseState(releaseCid: string, deps: ChatDeliveryDeps): Promise<ReleaseState | undefined> {
  const [rel] = await deps.reader.records([releaseCid]);
  if (!rel || rel.record.kind !== "release") return undefined;
  // A pull request's head or a Gerrit change is not a release people are told about in a channel.
  if (rel.record.source === "pull_request" || rel.record.source === "change") return undefined;
  const { project, tag } = rel.record;
  // The tag's records, less those of another commit it named before or since (another release).
  const { downstreams } = foldRuns(await releaseRecords(releaseCid, deps.reader, project, tag));
  const link = deps.publicUrl ? `${deps.publicUrl}/releases/${encodeURIComponent(project)}/${encodeURIComponent(tag)}` : undefined;
  return { releaseCid, project, tag, downstreams, link };
}
