import type { IncomingMessage, ServerResponse } from "node:http";
import type { DependencyMap } from "../map/graph.js";
import { planExport } from "../history/car.js";
import { parseCid } from "../history/cid.js";
import type { HistoryStore } from "../history/history-store.js";
import { foldRuns } from "../history/release-view.js";
import { reply } from "./http.js";

export const DAG_JSON_TYPE = "application/vnd.ipld.dag-json";
export const CAR_TYPE = "application/vnd.ipld.car";
const MAX_LIMIT = 500;

/**
 * The read-only query API (public, JSON): what a release caused, a record by CID, what ran for a
 * commit, a project's history, and the whole history as a CAR file. Ids in paths are URL-encoded.
 */
export function historyApi(store: HistoryStore, map: () => DependencyMap) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://relay");
    const parts = url.pathname.split("/");
    if (parts[1] !== "api" || parts[2] !== "v1" || !["releases", "records", "commits", "projects", "history.car"].includes(parts[3] ?? "")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, { error: "use GET" });
    let segments: string[];
    try {
      segments = parts.slice(4).map((s) => decodeURIComponent(s));
    } catch {
      return reply(res, 400, { error: "the path is not valid URL encoding: encode ids with encodeURIComponent (acme/lib → acme%2Flib)" });
    }
    switch (parts[3]) {
      case "releases": {
        if (segments.length !== 2 || !segments[0] || !segments[1]) return reply(res, 400, { error: "use /api/v1/releases/{projectId}/{tag}, each URL-encoded" });
        const [project, tag] = segments as [string, string];
        const records = await store.records(await store.ofRelease(project, tag));
        if (records.length === 0) return notFound(res, map, project, `no release ${tag} of '${project}' in the history`);
        const { releases, downstreams } = foldRuns(records);
        return reply(res, 200, { project, tag, release: releases[releases.length - 1] ?? null, releases, downstreams });
      }
      case "commits": {
        if (segments.length !== 2 || !segments[0]) return reply(res, 400, { error: "use /api/v1/commits/{projectId}/{sha}, the project id URL-encoded" });
        const [project, sha] = segments as [string, string];
        if (!/^[0-9a-f]{40}$/.test(sha)) return reply(res, 400, { error: "sha must be a full 40-character commit SHA (lower-case hex)" });
        const records = await store.records(await store.ofCommit(project, sha));
        if (records.length === 0) return notFound(res, map, project, `no records of commit ${sha} of '${project}'`);
        const { releases, downstreams } = foldRuns(records);
        return reply(res, 200, { project, sha, refs: [...new Set(releases.map((r) => r.tag))], releases, downstreams });
      }
      case "records": {
        if (segments.length !== 1) return reply(res, 400, { error: "use /api/v1/records/{cid}" });
        const cid = parseCid(segments[0]!);
        if (!cid) return reply(res, 400, { error: `'${segments[0]}' is not a CID (expected CIDv1 such as bagu…)` });
        const id = cid.toString();
        const bytes = await store.bytes(id);
        if (!bytes) return reply(res, 404, { error: `no record ${id}` });
        const immutable = { "cache-control": "public, max-age=31536000, immutable", vary: "accept" };
        if (url.searchParams.get("format") === "dag-json" || String(req.headers.accept ?? "").includes(DAG_JSON_TYPE)) {
          res.writeHead(200, { "content-type": DAG_JSON_TYPE, etag: `"${id}"`, ...immutable }).end(Buffer.from(bytes));
          return true;
        }
        res.writeHead(200, { "content-type": "application/json", etag: `"${id}.json"`, ...immutable })
          .end(`{"cid":${JSON.stringify(id)},"record":${Buffer.from(bytes).toString("utf8")}}`);
        return true;
      }
      case "projects": {
        if (segments.length !== 2 || segments[1] !== "history" || !segments[0]) return reply(res, 400, { error: "use /api/v1/projects/{projectId}/history?limit=&before=" });
        const project = segments[0];
        const limit = intParam(url, "limit", 50);
        const before = intParam(url, "before", undefined);
        if (limit === null || limit < 1 || limit > MAX_LIMIT) return reply(res, 400, { error: `limit must be a whole number from 1 to ${MAX_LIMIT}` });
        if (before === null || (before !== undefined && before < 1)) return reply(res, 400, { error: "before must be a positive whole number: the 'next' of the previous page" });
        const page = await store.ofProject(project, limit, before);
        if (page.items.length === 0) return notFound(res, map, project, `no history of '${project}' yet`, { project, items: [], next: null });
        const records = new Map((await store.records(page.items.map((i) => i.cid))).map((r) => [r.cid, r.record]));
        const items = page.items.map((i) => ({ cid: i.cid, seq: i.seq, record: records.get(i.cid) ?? null }));
        return reply(res, 200, { project, items, next: page.next ?? null });
      }
      case "history.car": {
        const sinceText = url.searchParams.get("since");
        const since = sinceText === null ? 0 : Date.parse(sinceText);
        if (Number.isNaN(since)) return reply(res, 400, { error: "since must be a date or date-time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z" });
        const plan = await planExport(store, since);
        res.writeHead(200, {
          "content-type": CAR_TYPE, "content-disposition": 'attachment; filename="openci-history.car"',
          "x-openci-root": plan.root.toString(), "x-openci-records": String(plan.records), "cache-control": "no-store",
        });
        if (req.method === "HEAD") return res.end(), true;
        const gone = new AbortController();
        res.once("close", () => gone.abort());
        try {
          await plan.write(async (chunk) => {
            if (!res.write(chunk)) await new Promise<void>((resolve) => { res.once("drain", resolve); gone.signal.addEventListener("abort", () => resolve()); });
          }, gone.signal);
          res.end();
        } catch (error) {
          // Headers are out: all that is left is to cut the download short (a CAR reader sees it end early).
          if (!gone.signal.aborted) res.destroy(error as Error);
        }
        return true;
      }
    }
    return false;
  };
}

/** 404 for a project the map does not know; a known project with nothing yet gets `empty` (or a 404 saying so). */
function notFound(res: ServerResponse, map: () => DependencyMap, project: string, message: string, empty?: unknown): true {
  if (!map().project(project)) return reply(res, 404, { error: `no project '${project}' in the dependency map or the history` });
  return empty !== undefined ? reply(res, 200, empty) : reply(res, 404, { error: message });
}

/** A whole-number query parameter: the default when absent, null when not a whole number. */
function intParam<T extends number | undefined>(url: URL, name: string, fallback: T): number | T | null {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  return /^\d+$/.test(v) ? Number(v) : null;
}
