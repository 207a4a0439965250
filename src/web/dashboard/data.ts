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
  const picked: { cid: string; release: ReleaseRecord }[] = [];
  for (const { cid, record } of await store.records(cids)) {
    if (record.kind !== "release") continue;
    const key = `${record.project}\u0000${record.tag}`;
    if (seen.has(key)) continue;
    seen.add(key);
    picked.push({ cid, release: record });
    if (picked.length >= limit) break;
  }
  return Promise.all(picked.map(async (p) => ({ ...p, downstreams: (await releaseDetail(store, p.release.project, p.release.tag)).downstreams })));
}

export async function releaseDetail(store: HistoryStore, project: string, tag: string) {
  return foldRuns(await store.records(await store.ofRelease(project, tag)));
}
