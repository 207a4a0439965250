import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { CID } from "multiformats/cid";
import { key } from "../queue/names.js";
import { block, decode, parseCid } from "./cid.js";
import { HistoryRecord, projectsOf } from "./record.js";

/** The upstream release a record belongs to: what the release and commit indexes are keyed by. */
export interface ReleaseRef {
  project: string;
  tag: string;
  sha: string;
}

export interface AppendOptions {
  /** The same key appends once: a retried job or a redelivered webhook adds nothing. */
  key: string;
  release: ReleaseRef;
  /** a relay run id: the record becomes that run's latest state (what its next state links to) */
  head?: string | undefined;
  /**
   * With `head`: the CID the record's `previous` names ("" for none). When the run's head has moved
   * meanwhile (another state came in), nothing is appended and `conflict` is set: build again.
   */
  expectHead?: string | undefined;
  /** more names for the record (first writer wins), e.g. a run's completion */
  aliases?: string[] | undefined;
}

export interface Appended {
  cid: CID;
  /** false when the key had been appended already: `cid` is that record's */
  created: boolean;
  /** the run's head moved (see AppendOptions.expectHead): nothing was appended */
  conflict?: boolean;
}

/** One entry of the history log: the order records were appended in. */
export interface LogEntry {
  /** the Redis stream id, `<ms>-<n>`: the Server-Sent Events id */
  id: string;
  cid: string;
  seq: number;
}

// KEYS: 1 idempotency key, 2 record, 3 sequence, 4 log stream, [5 head when ARGV[3] = '1'], then
// ARGV[5] alias keys, then index sorted sets.
// ARGV: 1 cid, 2 bytes, 3 head flag, 4 expected head ("" none), 5 alias count.
// Returns {cid, 1} appended, {cid, 0} appended before under this key, {head, 2} the head moved.
const APPEND = `
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
local i = 5
if ARGV[3] == '1' then
  local current = redis.call('GET', KEYS[5]) or ''
  if current ~= ARGV[4] then return {current, 2} end
  i = 6
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local seq = redis.call('INCR', KEYS[3])
redis.call('XADD', KEYS[4], '*', 'cid', ARGV[1], 'seq', seq)
if ARGV[3] == '1' then redis.call('SET', KEYS[5], ARGV[1]) end
for a = 1, tonumber(ARGV[5]) do
  redis.call('SET', KEYS[i], ARGV[1], 'NX')
  i = i + 1
end
for j = i, #KEYS do redis.call('ZADD', KEYS[j], seq, ARGV[1]) end
return {ARGV[1], 1}`;

/**
 * The history in Redis: records by CID (never rewritten), an append-only log (a Redis stream, the
 * order of events and what GET /api/v1/events replays), and indexes by project, release and commit.
 * Keep it with AOF persistence (appendonly yes): without it a restart loses the history.
 */
export class HistoryStore {
  constructor(private readonly redis: Redis) {}

  /** Validates and appends a record once per `key`; returns its CID. */
  async append(record: HistoryRecord, o: AppendOptions): Promise<Appended> {
    const { cid, bytes } = await block(HistoryRecord.parse(record));
    const indexes = [
      ...projectsOf(record).map((p) => k("project", digest(p))),
      k("release", digest(o.release.project, o.release.tag)),
      k("commit", digest(o.release.project, o.release.sha)),
      k("kind", record.kind),
    ];
    const aliases = (o.aliases ?? []).map((a) => k("key", digest(a)));
    const keys = [k("key", digest(o.key)), k("record", cid.toString()), k("seq"), LOG, ...(o.head ? [k("head", o.head)] : []), ...aliases, ...indexes];
    const [stored, status] = (await this.redis.eval(
      APPEND, keys.length, ...keys, cid.toString(), Buffer.from(bytes), o.head ? "1" : "0", o.expectHead ?? "", aliases.length,
    )) as [string, number];
    if (status === 2) return { cid, created: false, conflict: true };
    return { cid: parseCid(stored)!, created: status === 1 };
  }

  /** The record appended under an idempotency key, if any. */
  async byKey(idempotencyKey: string): Promise<CID | undefined> {
    const v = await this.redis.get(k("key", digest(idempotencyKey)));
    return v ? parseCid(v) : undefined;
  }

  /** The latest state record of a relay run. */
  async head(relayRunId: string): Promise<CID | undefined> {
    const v = await this.redis.get(k("head", relayRunId));
    return v ? parseCid(v) : undefined;
  }

  async bytes(cid: string): Promise<Uint8Array | undefined> {
    const b = await this.redis.getBuffer(k("record", cid));
    return b ? new Uint8Array(b) : undefined;
  }

  async get(cid: string): Promise<HistoryRecord | undefined> {
    const b = await this.bytes(cid);
    return b ? decode<HistoryRecord>(b) : undefined;
  }

  async many(cids: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (let i = 0; i < cids.length; i += 500) {
      const part = cids.slice(i, i + 500);
      const found = await this.redis.mgetBuffer(...part.map((c) => k("record", c)));
      part.forEach((c, j) => { if (found[j]) out.set(c, new Uint8Array(found[j]!)); });
    }
    return out;
  }

  /** Records by CID, decoded, in the order asked (unknown CIDs left out). */
  async records(cids: string[]): Promise<{ cid: string; record: HistoryRecord }[]> {
    const found = await this.many(cids);
    return cids.flatMap((cid) => {
      const bytes = found.get(cid);
      return bytes ? [{ cid, record: decode<HistoryRecord>(bytes) }] : [];
    });
  }

  /** Every record of an upstream release (all commits the tag named), oldest first. */
  async ofRelease(project: string, tag: string): Promise<string[]> {
    return this.redis.zrange(k("release", digest(project, tag)), 0, -1);
  }

  /** Every record of an upstream commit (all tags and pull requests at it), oldest first. */
  async ofCommit(project: string, sha: string): Promise<string[]> {
    return this.redis.zrange(k("commit", digest(project, sha)), 0, -1);
  }

  /** The newest records of one kind (e.g. the latest releases), newest first. */
  async recent(kind: HistoryRecord["kind"], limit: number): Promise<string[]> {
    return this.redis.zrevrange(k("kind", kind), 0, limit - 1);
  }

  /** A project's records, newest first, `before` a sequence number (exclusive); `next` continues. */
  async ofProject(project: string, limit: number, before?: number): Promise<{ items: { cid: string; seq: number }[]; next: number | undefined }> {
    const max = before === undefined ? "+inf" : `(${before}`;
    const flat = await this.redis.zrevrangebyscore(k("project", digest(project)), max, "-inf", "WITHSCORES", "LIMIT", 0, limit + 1);
    const items: { cid: string; seq: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ cid: flat[i]!, seq: Number(flat[i + 1]) });
    const more = items.length > limit;
    if (more) items.pop();
    return { items, next: more ? items[items.length - 1]!.seq : undefined };
  }

  /** Log entries after `afterId` (exclusive; "0" for the beginning), at most `count`. */
  async logAfter(afterId: string, count: number): Promise<LogEntry[]> {
    const start = afterId === "0" ? "-" : `(${afterId}`;
    return toEntries(await this.redis.xrange(LOG, start, "+", "COUNT", count));
  }

  /** Log entries appended at or after `ms` (epoch milliseconds), page by page. */
  async *logSince(ms: number, page = 1000): AsyncGenerator<LogEntry> {
    let start = `${Math.max(0, Math.floor(ms))}-0`;
    for (;;) {
      const entries = toEntries(await this.redis.xrange(LOG, start, "+", "COUNT", page));
      yield* entries;
      if (entries.length < page) return;
      start = `(${entries[entries.length - 1]!.id}`;
    }
  }

  /** The newest log id ("0" when empty): where a live reader starts. */
  async lastLogId(): Promise<string> {
    const [last] = await this.redis.xrevrange(LOG, "+", "-", "COUNT", 1);
    return last?.[0] ?? "0";
  }

  /** Blocks up to `blockMs` for entries after `afterId` (on a connection of its own). */
  static async readLog(conn: Redis, afterId: string, blockMs: number, count = 500): Promise<LogEntry[]> {
    const reply = (await conn.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", LOG, afterId)) as [string, [string, string[]][]][] | null;
    return reply ? toEntries(reply[0]![1]) : [];
  }

  async size(): Promise<number> {
    return this.redis.xlen(LOG);
  }
}

const LOG = key("hist", "log");
const k = (...parts: string[]) => key("hist", ...parts);

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 40);
}

function toEntries(raw: [string, string[]][]): LogEntry[] {
  return raw.map(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    return { id, cid: f.cid!, seq: Number(f.seq) };
  });
}
