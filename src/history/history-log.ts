import type { Redis } from "ioredis";

/** Which part of the history a record belongs to: public, or private (kept apart, read with the read token). */
export type Scope = "public" | "private";

/** One entry of a history log: the order records were appended in. */
export interface LogEntry {
  /** the Redis stream id, `<ms>-<n>`: the Server-Sent Events id */
  id: string;
  cid: string;
  /** shared by both scopes, so the two merge in append order */
  seq: number;
  scope: Scope;
}

/**
 * A history log (a Redis stream): the public log holds the public records (since the first); the
 * full log every record, public and private, since the relay first kept private records apart.
 */
export class HistoryLog {
  constructor(private readonly redis: Redis, readonly key: string) {}

  /** Entries after `afterId` (exclusive; "0" for the beginning), at most `count`. */
  async after(afterId: string, count: number): Promise<LogEntry[]> {
    const start = afterId === "0" ? "-" : `(${afterId}`;
    return toEntries(await this.redis.xrange(this.key, start, "+", "COUNT", count));
  }

  /** Entries appended at or after `ms` (epoch milliseconds), page by page. */
  async *since(ms: number, page = 1000): AsyncGenerator<LogEntry> {
    let start = `${Math.max(0, Math.floor(ms))}-0`;
    for (;;) {
      const entries = toEntries(await this.redis.xrange(this.key, start, "+", "COUNT", page));
      yield* entries;
      if (entries.length < page) return;
      start = `(${entries[entries.length - 1]!.id}`;
    }
  }

  /** The newest id ("0" when empty): where a live reader starts. */
  async last(): Promise<string> {
    const [last] = await this.redis.xrevrange(this.key, "+", "-", "COUNT", 1);
    return last?.[0] ?? "0";
  }

  /** Blocks up to `blockMs` for entries after `afterId`, on `conn` (a connection of its own). */
  async read(conn: Redis, afterId: string, blockMs: number, count = 500): Promise<LogEntry[]> {
    const reply = (await conn.xread("COUNT", count, "BLOCK", blockMs, "STREAMS", this.key, afterId)) as [string, [string, string[]][]][] | null;
    return reply ? toEntries(reply[0]![1]) : [];
  }

  async size(): Promise<number> {
    return this.redis.xlen(this.key);
  }
}

/** Two logs' entries as one, by sequence number (each input in append order). */
export async function* mergeBySeq(a: AsyncIterable<LogEntry>, b: AsyncIterable<LogEntry>): AsyncGenerator<LogEntry> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let x = await ia.next();
  let y = await ib.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value.seq <= y.value.seq)) {
      yield x.value!;
      x = await ia.next();
    } else {
      yield y.value;
      y = await ib.next();
    }
  }
}

function toEntries(raw: [string, string[]][]): LogEntry[] {
  return raw.map(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    // The public log's entries carry no scope: all of them are public.
    return { id, cid: f.cid!, seq: Number(f.seq), scope: f.scope === "private" ? "private" : "public" };
  });
}
