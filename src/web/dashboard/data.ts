import type { HistoryReader } from "../../history/history-reader.js";
import type { HistoryStore } from "../../history/history-store.js";
import type { HistoryRecord, ReleaseRecord } from "../../history/record.js";
import { foldRuns, type DownstreamView } from "../../history/release-view.js";
import { dropHidden, namedProjects } from "../../history/visibility.js";

/** One upstream release with where each of its downstreams stands. */
export interface ReleaseColumn {
  cid: string;
  release: ReleaseRecord;
  downstreams: DownstreamView[];
}

/** A recent release and its records, as read from one scope: what the pages cache while the log stands still. */
export interface RecentRelease {
  cid: string;
  release: ReleaseRecord;
  records: { cid: string; record: HistoryRecord }[];
}

/** The newest `limit` releases (a tag once, whatever commits it named), newest first, with their records. */
export async function recentReleases(store: HistoryStore, limit: number): Promise<RecentRelease[]> {
  const cids = await store.recent("release", limit * 3);
  const seen = new Set<string>();
  const picked: { cid: string; release: ReleaseRecord }[] = [];
  for (const { cid, record } of await store.records(cids)) {
    if (record.kind !== "release") continue;
    const key = `${record.project}\u0000${record.tag}`;
    if (seen.has(key)) continue;
    seen.add(key);
    picked.push({ cid, release: record });
    if (picked.length >= limit) break;
  }
  return Promise.all(picked.map(async (p) => ({ ...p, records: await store.records(await store.ofRelease(p.release.project, p.release.tag)) })));
}

/**
 * The recent releases as this reader may see them now: asked at every request, so a project
 * turned private leaves the pages at once, however long ago the history last grew.
 */
export async function visibleColumns(reader: HistoryReader, recent: RecentRelease[]): Promise<ReleaseColumn[]> {
  const hidden = await reader.hidden([...new Set(recent.flatMap((r) => r.records.flatMap((x) => namedProjects(x.record))))]);
  return recent.filter((r) => !hidden.has(r.release.project))
    .map((r) => ({ cid: r.cid, release: r.release, downstreams: foldRuns(dropHidden(r.records, hidden)).downstreams }));
}
