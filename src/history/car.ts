import { CarBlockIterator, CarWriter } from "@ipld/car";
import type { CID } from "multiformats/cid";
import { block, checkBlock, decode, linksOf, parseCid } from "./cid.js";
import type { HistoryStore, LogEntry } from "./history-store.js";
import type { HistoryRecord } from "./record.js";

/** Links per manifest page: keeps every block well under IPFS's 1 MiB block limit. */
export const PAGE = 1000;

export interface ExportPlan {
  root: CID;
  records: number;
  /** where the next part starts (`?after=`), when this part stopped at its size; absent when it holds the rest */
  next?: string;
  /** writes the CAR: the root, its pages, then every record; rejects when `signal` aborts (the reader left) */
  write(sink: (chunk: Uint8Array) => Promise<void> | void, signal?: AbortSignal): Promise<void>;
}

/** Keeps the records a reader may see (a public export leaves out projects hidden since). */
export type Visible = (items: { cid: string; record: HistoryRecord }[]) => Promise<{ cid: string; record: HistoryRecord }[]>;

export interface ExportOptions {
  /** a public export's filter (projects hidden since their records were written) */
  visible?: Visible;
  /** the log entries one part reads at most before its first byte (its records are at most this many) */
  maxEntries?: number;
  /** the cursor the previous part ended at (its `next`): this part starts after it */
  after?: string;
}

/** A part's cursor: the last log entry it read, as `<ms>-<seq>` (the two logs share seq, not ids). */
export const CURSOR = /^(\d{1,15})-(\d{1,15})$/;

/**
 * The history since `sinceMs` as a CARv1 file any IPFS tool imports (`ipfs dag import`): its root
 * is a manifest (dag-json) linking pages of the exported records, so importing pins all of them.
 * The same history exports to the same root. The store's scope says which records: the public
 * ones, or (private scope) all of them.
 *
 * A CAR names its root before its blocks, and the root hashes the list of every record, so the
 * list is read before the first byte. To bound that, an export is served in parts of at most
 * `maxEntries` log entries: a part that stops early says where the next starts (`next`, also in
 * its root), and `openci-relay export` joins the parts into the one file, with the root an export in
 * one part would have had. Records themselves are read while the file is written, 500 at a time.
 */
export async function planExport(store: HistoryStore, sinceMs: number, o: ExportOptions = {}): Promise<ExportPlan> {
  const max = Math.max(1, o.maxEntries ?? Infinity);
  const cursor = o.after === undefined ? undefined : CURSOR.exec(o.after);
  if (o.after !== undefined && !cursor) throw new Error(`'${o.after}' is not an export cursor (<ms>-<seq>, the next of a previous part)`);
  const afterSeq = cursor ? Number(cursor[2]) : -1;
  // The entry after the cursor was appended at or after it, in either log: a second of slack for a
  // clock set back between the two, and the sequence number says which entries are new.
  const startMs = cursor ? Math.max(sinceMs, Number(cursor[1]) - 1000) : sinceMs;
  const seen = new Set<string>();
  let cids: string[] = [];
  let until = "0";
  let read = 0;
  let last: LogEntry | undefined;
  let next: string | undefined;
  for await (const e of store.logSince(startMs)) {
    if (e.seq <= afterSeq) continue;
    if (read === max) {
      next = `${last!.id.split("-")[0]}-${last!.seq}`;
      break;
    }
    read++;
    last = e;
    until = e.id;
    if (!seen.has(e.cid)) cids.push(e.cid), seen.add(e.cid);
  }
  if (o.visible) cids = await keep(store, cids, o.visible);
  const pages: { cid: CID; bytes: Uint8Array }[] = [];
  for (let i = 0; i < cids.length; i += PAGE) {
    pages.push(await block({ kind: "openci-export-page", records: cids.slice(i, i + PAGE).map((c) => parseCid(c)!) }));
  }
  const root = await block({
    kind: "openci-export", v: 1, since: new Date(sinceMs).toISOString(), until, records: cids.length, pages: pages.map((p) => p.cid),
    ...(o.after !== undefined ? { after: o.after } : {}), ...(next !== undefined ? { next } : {}),
  });
  return {
    root: root.cid,
    records: cids.length,
    ...(next !== undefined ? { next } : {}),
    write: (sink, signal) => writeCar(store, root, pages, cids, sink, signal),
  };
}

async function writeCar(
  store: HistoryStore, root: { cid: CID; bytes: Uint8Array }, pages: { cid: CID; bytes: Uint8Array }[], cids: string[],
  sink: (chunk: Uint8Array) => Promise<void> | void, signal?: AbortSignal,
): Promise<void> {
  const { writer, out } = CarWriter.create([root.cid]);
  const aborted = new Promise<never>((_, reject) => {
    const stop = () => reject(new Error("export aborted: the reader went away"));
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop);
  });
  aborted.catch(() => undefined);
  const piping = (async () => {
    for await (const chunk of out) await sink(chunk);
  })();
  // A put waits until the reader takes the block: never longer than the reader stays.
  const put = (b: { cid: CID; bytes: Uint8Array }) => Promise.race([writer.put(b), piping.then(() => undefined), aborted]);
  await put(root);
  for (const p of pages) await put(p);
  for (let i = 0; i < cids.length; i += 500) {
    const part = cids.slice(i, i + 500);
    const found = await store.many(part);
    for (const c of part) {
      const bytes = found.get(c);
      if (bytes) await put({ cid: parseCid(c)!, bytes });
    }
  }
  await Promise.race([writer.close(), aborted]);
  await Promise.race([piping, aborted]);
}

async function keep(store: HistoryStore, cids: string[], visible: Visible): Promise<string[]> {
  const kept: string[] = [];
  for (let i = 0; i < cids.length; i += 500) kept.push(...(await visible(await store.records(cids.slice(i, i + 500)))).map((r) => r.cid));
  return kept;
}

export interface VerifyReport {
  roots: string[];
  blocks: number;
  /** blocks whose bytes do not hash to their CID (changed), or are not canonical dag-json */
  tampered: { cid: string; problem: string }[];
  /** blocks the export's manifest lists but the file does not hold */
  missing: string[];
  /** links of records to earlier records outside the export (before --since): not a problem */
  outside: number;
  /** blocks in the file the manifest does not list (not from an export, or added later) */
  unlisted: string[];
}

/** Reads a CAR file, recomputes every block's CID, and checks the manifest against the blocks. */
export async function verifyCar(input: AsyncIterable<Uint8Array>): Promise<VerifyReport> {
  const reader = await CarBlockIterator.fromIterable(input);
  const roots = (await reader.getRoots()).map((c) => c.toString());
  const present = new Set<string>();
  const listed = new Set<string>(roots);
  const linked = new Set<string>();
  const tampered: VerifyReport["tampered"] = [];
  let blocks = 0;
  for await (const { cid, bytes } of reader) {
    blocks++;
    const id = cid.toString();
    present.add(id);
    const problem = await checkBlock(cid, bytes);
    if (problem) {
      tampered.push({ cid: id, problem });
      continue;
    }
    let value: { kind?: string };
    try {
      value = decode<{ kind?: string }>(bytes);
    } catch (error) {
      tampered.push({ cid: id, problem: `cannot be read: ${(error as Error).message}` });
      continue;
    }
    const manifest = value.kind === "openci-export" || value.kind === "openci-export-page";
    for (const l of linksOf(value)) (manifest ? listed : linked).add(l.toString());
  }
  const missing = [...listed].filter((c) => !present.has(c));
  const outside = [...linked].filter((c) => !present.has(c)).length;
  const unlisted = [...present].filter((c) => !listed.has(c));
  return { roots, blocks, tampered, missing, outside, unlisted };
}
