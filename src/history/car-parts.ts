import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarBlockIterator, CarWriter } from "@ipld/car";
import type { CID } from "multiformats/cid";
import { PAGE } from "./car.js";
import { block, decode, parseCid } from "./cid.js";

interface Manifest {
  kind?: string;
  since?: string;
  until?: string;
  next?: string;
  pages?: CID[];
  records?: CID[] | number;
}

/**
 * Joins the parts of one export (each a CAR from GET /api/v1/history.car, followed by its
 * `next`) into one CAR whose root is the root an export in one part would have: the same since,
 * the last part's until, every record listed once, in order, in pages of the same size. Record
 * blocks wait in a spool file, so memory holds only their CIDs.
 */
export class PartJoiner {
  private readonly order: string[] = [];
  private readonly listed = new Set<string>();
  private readonly lengths: { cid: string; length: number }[] = [];
  private readonly spooled = new Set<string>();
  private spool: { dir: string; file: string; out: WriteStream } | undefined;
  private since: string | undefined;
  private until = "0";
  parts = 0;

  /** Reads one part; answers its cursor to the next part (undefined: it was the last). */
  async add(car: AsyncIterable<Uint8Array>): Promise<string | undefined> {
    const reader = await CarBlockIterator.fromIterable(car);
    const [rootCid] = await reader.getRoots();
    if (!rootCid) throw new Error("a part of the export has no root: not a history.car part");
    const root = rootCid.toString();
    let manifest: Manifest | undefined;
    let pages = new Set<string>();
    const spool = await this.spoolFile();
    for await (const { cid, bytes } of reader) {
      const id = cid.toString();
      if (id === root) {
        manifest = decode<Manifest>(bytes);
        if (manifest.kind !== "openci-export") throw new Error(`the part's root ${root} is not an export manifest (kind ${String(manifest.kind)})`);
        pages = new Set((manifest.pages ?? []).map((p) => p.toString()));
        continue;
      }
      if (pages.has(id)) {
        const page = decode<Manifest>(bytes);
        for (const c of Array.isArray(page.records) ? page.records : []) {
          const s = c.toString();
          if (!this.listed.has(s)) this.listed.add(s), this.order.push(s);
        }
        continue;
      }
      if (this.spooled.has(id) || !this.listed.has(id)) continue;
      this.spooled.add(id);
      this.lengths.push({ cid: id, length: bytes.length });
      if (!spool.out.write(bytes)) await once(spool.out, "drain");
    }
    if (!manifest) throw new Error(`the part's root ${root} is not in the part: it was cut short`);
    this.parts++;
    this.since ??= manifest.since;
    this.until = manifest.until ?? this.until;
    return manifest.next;
  }

  /** Writes the joined CAR to `sink` and removes the spool; answers its root and record count. */
  async write(sink: (chunk: Uint8Array) => Promise<void> | void): Promise<{ root: CID; records: number }> {
    const spool = await this.spoolFile();
    await new Promise<void>((resolve, reject) => spool.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    try {
      const pages: { cid: CID; bytes: Uint8Array }[] = [];
      for (let i = 0; i < this.order.length; i += PAGE) {
        pages.push(await block({ kind: "openci-export-page", records: this.order.slice(i, i + PAGE).map((c) => parseCid(c)!) }));
      }
      const root = await block({ kind: "openci-export", v: 1, since: this.since, until: this.until, records: this.order.length, pages: pages.map((p) => p.cid) });
      const { writer, out } = CarWriter.create([root.cid]);
      const piping = (async () => {
        for await (const chunk of out) await sink(chunk);
      })();
      // A put waits until the sink takes the block; a failing sink ends the wait.
      const put = (b: { cid: CID; bytes: Uint8Array }) => Promise.race([writer.put(b), piping.then(() => undefined)]);
      await put(root);
      for (const p of pages) await put(p);
      let i = 0;
      let held: Buffer = Buffer.alloc(0);
      for await (const chunk of createReadStream(spool.file)) {
        held = held.length ? Buffer.concat([held, chunk as Buffer]) : (chunk as Buffer);
        while (i < this.lengths.length && held.length >= this.lengths[i]!.length) {
          const { cid, length } = this.lengths[i++]!;
          await put({ cid: parseCid(cid)!, bytes: new Uint8Array(held.subarray(0, length)) });
          held = held.subarray(length);
        }
      }
      await writer.close();
      await piping;
      return { root: root.cid, records: this.order.length };
    } finally {
      await rm(spool.dir, { recursive: true, force: true });
    }
  }

  /** Removes the spool without writing (a part failed). */
  async discard(): Promise<void> {
    if (!this.spool) return;
    this.spool.out.destroy();
    await rm(this.spool.dir, { recursive: true, force: true });
  }

  private async spoolFile() {
    if (!this.spool) {
      const dir = await mkdtemp(join(tmpdir(), "openci-export-"));
      const file = join(dir, "records");
      this.spool = { dir, file, out: createWriteStream(file) };
    }
    return this.spool;
  }
}
