import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { CID } from "multiformats/cid";
import { key } from "../queue/names.js";
import { HistoryLog, mergeBySeq, type LogEntry, type Scope } from "./history-log.js";
import { block, decode, parseCid } from "./cid.js";
import { HistoryRecord, projectsOf } from "./record.js";

export type { LogEntry, Scope };

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

// KEYS: 1 idempotency key, 2 record, 3 sequence, then ARGV[6] log streams (the full log last), then
// ARGV[3] head keys (the scope's own first: it is the one set), then ARGV[5] alias keys, then index
// sorted sets.
// ARGV: 1 cid, 2 bytes, 3 head key count, 4 expected head ("" none), 5 alias count, 6 log count, 7 scope.
// Returns {cid, 1} appended, {cid, 0} appended before under this key, {head, 2} the head moved.
const APPEND = `
local existing = redis.call('GET', KEYS[1])
if existing then return {existing, 0} end
local logs = tonumber(ARGV[6])
local heads = tonumber(ARGV[3])
local i = 4 + logs
if heads > 0 then
  local current = ''
  for h = i, i + heads - 1 do
    local v = redis.call('GET', KEYS[h])
    if v then current = v break end
  end
  if current ~= ARGV[4] then return {current, 2} end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local seq = redis.call('INCR', KEYS[3])
for l = 4, 2 + logs do redis.call('XADD', KEYS[l], '*', 'cid', ARGV[1], 'seq', seq) end
redis.call('XADD', KEYS[3 + logs], '*', 'cid', ARGV[1], 'seq', seq, 'scope', ARGV[7])
if heads > 0 then redis.call('SET', KEYS[i], ARGV[1]) end
i = i + heads
for a = 1, tonumber(ARGV[5]) do
  redis.call('SET', KEYS[i], ARGV[1], 'NX')
  i = i + 1
end
for j = i, #KEYS do redis.call('ZADD', KEYS[j], seq, ARGV[1]) end
return {ARGV[1], 1}`;

/**
 * The history in Redis: records by CID (never rewritten), append-only logs (Redis streams: the
 * order of events and what GET /api/v1/events replays), and indexes by project, release and commit.
 * Keep it with AOF persistence (appendonly yes): without it a restart loses the history.
 *
 * A store has a scope. The public scope writes and reads only public records, under the keys the
 * relay always used. The private scope writes private records under keys of their own
 * (`hist:private:…`: records, idempotency keys, heads, aliases, indexes) and reads everything, its
 * own first: what a holder of the read token sees, and where a private record finds what it links
 * to. The sequence is shared, so both scopes merge in append order. Logs: the public log
 * (`hist:log`) gets the public records; the full log (`hist:log:full`) every record, since this
 * version: the private scope's log.
 */
export class HistoryStore {
  private readonly prefixes: string[];
  private readonly log: HistoryLog;

  constructor(private readonly redis: Redis, readonly scope: Scope = "public") {
    this.prefixes = scope === "public" ? [PUBLIC] : [PRIVATE, PUBLIC];
    this.log = new HistoryLog(redis, scope === "public" ? PUBLIC_LOG : FULL_LOG);
  }

  /** The same history in another scope. */
  inScope(scope: Scope): HistoryStore {
    return scope === this.scope ? this : new HistoryStore(this.redis, scope);
  }

  /** Validates and appends a record once per `key` in this scope; returns its CID. */
  async append(record: HistoryRecord, o: AppendOptions): Promise<Appended> {
    const { cid, bytes } = await block(HistoryRecord.parse(record));
    const own = this.prefixes[0]!;
    const k = (...parts: string[]) => at(own, ...parts);
    const indexes = [
      ...projectsOf(record).map((p) => k("project", digest(p))),
      k("release", digest(o.release.project, o.release.tag)),
      k("commit", digest(o.release.project, o.release.sha)),
      k("kind", record.kind),
    ];
    const logs = this.scope === "public" ? [PUBLIC_LOG, FULL_LOG] : [FULL_LOG];
    const heads = o.head ? this.prefixes.map((p) => at(p, "head", o.head!)) : [];
    const aliases = (o.aliases ?? []).map((a) => k("key", digest(a)));
    const keys = [k("key", digest(o.key)), k("record", cid.toString()), SEQ, ...logs, ...heads, ...aliases, ...indexes];
    const [stored, status] = (await this.redis.eval(
      APPEND, keys.length, ...keys, cid.toString(), Buffer.from(bytes), heads.length, o.expectHead ?? "", aliases.length, logs.length, this.scope,
    )) as [string, number];
    if (status === 2) return { cid, created: false, conflict: true };
    return { cid: parseCid(stored)!, created: status === 1 };
  }

  /** The record appended under an idempotency key (or alias), if any. */
  async byKey(idempotencyKey: string): Promise<CID | undefined> {
    return this.first(["key", digest(idempotencyKey)]);
  }

  /** The latest state record of a relay run. */
  async head(relayRunId: string): Promise<CID | undefined> {
    return this.first(["head", relayRunId]);
  }

  async bytes(cid: string): Promise<Uint8Array | undefined> {
    return (await this.many([cid])).get(cid);
  }

  async get(cid: string): Promise<HistoryRecord | undefined> {
    const b = await this.bytes(cid);
    return b ? decode<HistoryRecord>(b) : undefined;
  }

  async many(cids: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const prefix of this.prefixes) {
      const wanted = cids.filter((c) => !out.has(c));
      for (let i = 0; i < wanted.length; i += 500) {
        const part = wanted.slice(i, i + 500);
        const found = await this.redis.mgetBuffer(...part.map((c) => at(prefix, "record", c)));
        part.forEach((c, j) => { if (found[j]) out.set(c, new Uint8Array(found[j]!)); });
      }
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
    return (await this.ranged(["release", digest(project, tag)], (k) => this.redis.zrange(k, 0, -1, "WITHSCORES"))).map((i) => i.cid);
  }

  /** Every record of an upstream commit (all tags and pull requests at it), oldest first. */
  async ofCommit(project: string, sha: string): Promise<string[]> {
    return (await this.ranged(["commit", digest(project, sha)], (k) => this.redis.zrange(k, 0, -1, "WITHSCORES"))).map((i) => i.cid);
  }

  /** The newest records of one kind (e.g. the latest releases), newest first. */
  async recent(kind: HistoryRecord["kind"], limit: number): Promise<string[]> {
    const items = await this.ranged(["kind", kind], (k) => this.redis.zrevrange(k, 0, limit - 1, "WITHSCORES"));
    return items.reverse().slice(0, limit).map((i) => i.cid);
  }

  /** A project's records, newest first, `before` a sequence number (exclusive); `next` continues. */
  async ofProject(project: string, limit: number, before?: number): Promise<{ items: { cid: string; seq: number }[]; next: number | undefined }> {
    const max = before === undefined ? "+inf" : `(${before}`;
    const items = (await this.ranged(["project", digest(project)], (k) => this.redis.zrevrangebyscore(k, max, "-inf", "WITHSCORES", "LIMIT", 0, limit + 1)))
      .reverse().slice(0, limit + 1);
    const more = items.length > limit;
    if (more) items.pop();
    return { items, next: more ? items[items.length - 1]!.seq : undefined };
  }

  /** This scope's log entries after `afterId` (exclusive; "0" for the beginning), at most `count`. */
  async logAfter(afterId: string, count: number): Promise<LogEntry[]> {
    return this.log.after(afterId, count);
  }

  /**
   * Every record appended at or after `ms` (epoch milliseconds), in append order: what an export
   * holds. The private scope's are the public log's and the full log's private ones, merged, so
   * the public records from before the full log began are not left out.
   */
  logSince(ms: number, page = 1000): AsyncGenerator<LogEntry> {
    if (this.scope === "public") return this.log.since(ms, page);
    return mergeBySeq(new HistoryLog(this.redis, PUBLIC_LOG).since(ms, page), privateOnly(this.log.since(ms, page)));
  }

  /** The newest id of this scope's log ("0" when empty): where a live reader starts. */
  async lastLogId(): Promise<string> {
    return this.log.last();
  }

  /** Blocks up to `blockMs` for this scope's log entries after `afterId` (on a connection of its own). */
  async readLog(conn: Redis, afterId: string, blockMs: number, count = 500): Promise<LogEntry[]> {
    return this.log.read(conn, afterId, blockMs, count);
  }

  /** How many entries this scope's log holds. */
  async size(): Promise<number> {
    return this.log.size();
  }

  /** A key's value in the first scope read that has it. */
  private async first(parts: string[]): Promise<CID | undefined> {
    const values = await this.redis.mget(...this.prefixes.map((p) => at(p, ...parts)));
    const v = values.find((x) => x !== null);
    return v ? parseCid(v) : undefined;
  }

  /** A sorted set read in every scope read, merged by sequence number (oldest first). */
  private async ranged(parts: string[], read: (key: string) => Promise<string[]>): Promise<{ cid: string; seq: number }[]> {
    const items: { cid: string; seq: number }[] = [];
    for (const prefix of this.prefixes) {
      const flat = await read(at(prefix, ...parts));
      for (let i = 0; i < flat.length; i += 2) items.push({ cid: flat[i]!, seq: Number(flat[i + 1]) });
    }
    return items.sort((a, b) => a.seq - b.seq);
  }
}

const PUBLIC = key("hist");
const PRIVATE = key("hist", "private");
const SEQ = key("hist", "seq");
const PUBLIC_LOG = key("hist", "log");
const FULL_LOG = key("hist", "log", "full");
const at = (prefix: string, ...parts: string[]) => [prefix, ...parts].join(":");

async function* privateOnly(entries: AsyncIterable<LogEntry>): AsyncGenerator<LogEntry> {
  for await (const e of entries) if (e.scope === "private") yield e;
}

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 40);
}
