import type { Redis } from "ioredis";
import type { PublicFilter } from "../trust/privacy.js";
import { planExport, type ExportPlan } from "./car.js";
import type { HistoryStore, LogEntry } from "./history-store.js";
import type { HistoryRecord } from "./record.js";
import { foldRuns, type DownstreamView } from "./release-view.js";
import { dropHidden, namedProjects } from "./visibility.js";

/** What a reader may see: the public history (anyone), or all of it (the read or admin token). */
export type Reach = "public" | "all";

type Item = { cid: string; record: HistoryRecord };

/** A release or a commit as one reader sees it. */
export interface RunsView {
  releases: ReturnType<typeof foldRuns>["releases"];
  downstreams: DownstreamView[];
  /** downstreams left out of this view because they are private (0 for a reader who sees all) */
  privateDownstreams: number;
}

/**
 * The history as one request may read it, for every read route, the event stream and the
 * dashboard. `public`: the public scope, less any record that names a project the filter hides now
 * (turned private since it was written). `all`: both scopes, nothing left out.
 */
export class HistoryReader {
  private constructor(
    readonly reach: Reach,
    /** the public scope, or the private scope (which reads both) */
    readonly store: HistoryStore,
    private readonly filter: PublicFilter,
    /** both scopes: what a public view counts as left out */
    private readonly everything: HistoryStore,
  ) {}

  /** The public reader and the one that sees all, over the same history. */
  static pair(store: HistoryStore, filter: PublicFilter): Record<Reach, HistoryReader> {
    const everything = store.inScope("private");
    return {
      public: new HistoryReader("public", store.inScope("public"), filter, everything),
      all: new HistoryReader("all", everything, filter, everything),
    };
  }

  /** The ids among these this reader must not be shown (none for a reader who sees all). */
  async hidden(projectIds: readonly string[]): Promise<Set<string>> {
    return this.reach === "all" || projectIds.length === 0 ? new Set() : this.filter.hidden(projectIds);
  }

  /** A project this reader must be answered about as if it did not exist. */
  async hides(project: string): Promise<boolean> {
    return (await this.hidden([project])).has(project);
  }

  /** The items this reader may see. */
  async visible<T extends Item>(items: T[]): Promise<T[]> {
    return dropHidden(items, await this.hidden([...new Set(items.flatMap((i) => namedProjects(i.record)))]));
  }

  /** Records by CID that this reader may see, in the order asked. */
  async records(cids: string[]): Promise<Item[]> {
    return this.visible(await this.store.records(cids));
  }

  /** A record's bytes, or undefined when unknown or not for this reader (the two read the same). */
  async bytes(cid: string): Promise<Uint8Array | undefined> {
    const [record] = await this.records([cid]);
    return record ? this.store.bytes(cid) : undefined;
  }

  /** What a release caused, or undefined when this reader sees nothing of it. */
  async release(project: string, tag: string): Promise<RunsView | undefined> {
    return this.runs((s) => s.ofRelease(project, tag));
  }

  /** What ran for an upstream commit, or undefined when this reader sees nothing of it. */
  async commit(project: string, sha: string): Promise<RunsView | undefined> {
    return this.runs((s) => s.ofCommit(project, sha));
  }

  /** A project's records this reader may see, newest first (a page may hold fewer than `limit`). */
  async ofProject(project: string, limit: number, before?: number): Promise<{ items: (Item & { seq: number })[]; next: number | undefined }> {
    const page = await this.store.ofProject(project, limit, before);
    const seqs = new Map(page.items.map((i) => [i.cid, i.seq]));
    const items = (await this.records(page.items.map((i) => i.cid))).map((r) => ({ ...r, seq: seqs.get(r.cid)! }));
    return { items, next: page.next };
  }

  /** The history since `sinceMs` as a CAR export (one part of it): the public log's records, or (all) every record. */
  async exportPlan(sinceMs: number, part: { after?: string; maxEntries?: number } = {}): Promise<ExportPlan> {
    return planExport(this.store, sinceMs, { ...part, ...(this.reach === "public" ? { visible: (items) => this.visible(items) } : {}) });
  }

  /** The log this reader follows: the public log, or the full one. */
  logAfter(afterId: string, count: number): Promise<LogEntry[]> {
    return this.store.logAfter(afterId, count);
  }

  lastLogId(): Promise<string> {
    return this.store.lastLogId();
  }

  readLog(conn: Redis, afterId: string, blockMs: number, count?: number): Promise<LogEntry[]> {
    return this.store.readLog(conn, afterId, blockMs, count);
  }

  private async runs(index: (s: HistoryStore) => Promise<string[]>): Promise<RunsView | undefined> {
    const records = await this.records(await index(this.store));
    if (records.length === 0) return undefined;
    const { releases, downstreams } = foldRuns(records);
    if (this.reach === "all") return { releases, downstreams, privateDownstreams: 0 };
    const shown = new Set(downstreams.map((d) => d.project));
    const every = new Set((await this.everything.records(await index(this.everything))).flatMap(({ record: r }) => r.kind === "release" ? [] : [r.downstream]));
    return { releases, downstreams, privateDownstreams: [...every].filter((p) => !shown.has(p)).length };
  }
}
