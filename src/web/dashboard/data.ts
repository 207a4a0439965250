import type { HistoryStore } from "../../history/history-store.js";
import type { ReleaseRecord } from "../../history/record.js";
import { foldRuns, type DownstreamView } from "../../history/release-view.js";

/** One upstream release with where each of its downstreams stands. */
export interface ReleaseColumn {
  cid: string;
  release: ReleaseRecord;
  downstreams: DownstreamView[];
}

/** The newest `limit` releases (a tag once, whatever commits it named), newest first, with their downstreams. */
export async function recentReleases(store: HistoryStore, limit: number): Promise<ReleaseColumn[]> {
  const cids = await store.recent("release", limit * 3);
  const seen = new Set<string>();
  const out: ReleaseColumn[] = [];
  for (const { cid, record } of await store.records(cids)) {
    if (record.kind !== "release") continue;
    const key = `${record.project}\u0000${record.tag}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ cid, release: record, downstreams: (await releaseDetail(store, record.project, record.tag)).downstreams });
    if (out.length >= limit) break;
  }
  return out;
}

export async function releaseDetail(store: HistoryStore, project: string, tag: string) {
  return foldRuns(await store.records(await store.ofRelease(project, tag)));
}
