import type { IncomingMessage, ServerResponse } from "node:http";
import type { DependencyMap } from "../map/graph.js";
import { CURSOR } from "../history/car.js";
import { parseCid } from "../history/cid.js";
import type { HistoryReader, Reach } from "../history/history-reader.js";
import { readReach, refuseReader, type ReadTokens } from "./admin-auth.js";
import { clientAddress, PerAddress, reply, tooMany } from "./http.js";

export const DAG_JSON_TYPE = "application/vnd.ipld.dag-json";
export const CAR_TYPE = "application/vnd.ipld.car";
const MAX_LIMIT = 500;
/** Exports running at once in one process, whoever asks: each reads up to one part's log before its first byte. */
const MAX_EXPORTS = 20;

/** OPENCI_EXPORTS_PER_ADDRESS, OPENCI_TRUST_PROXY and OPENCI_EXPORT_PART_RECORDS. */
export interface ExportLimits {
  perAddress: number;
  trustProxy: number;
  /** log entries one part of history.car reads before its first byte (default 10,000) */
  partRecords?: number;
}

export interface HistoryAccess {
  readers: Record<Reach, HistoryReader>;
  tokens: ReadTokens;
}

/**
 * The read-only query API (JSON): what a release caused, a record by CID, what ran for a commit,
 * a project's history, and the whole history as a CAR file. Ids in paths are URL-encoded. Without
 * credentials it answers from the public history; with the read or admin token from all of it
 * (`history.car` only with `?private=1` as well); with a wrong token 401.
 */
export function historyApi(access: HistoryAccess, map: () => DependencyMap, limits: ExportLimits = { perAddress: 2, trustProxy: 0 }) {
  const exports = new PerAddress(limits.perAddress);
  let running = 0;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://relay");
    const parts = url.pathname.split("/");
    if (parts[1] !== "api" || parts[2] !== "v1" || !["releases", "records", "commits", "projects", "history.car"].includes(parts[3] ?? "")) return false;
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, { error: "use GET" });
    const reach = readReach(req, access.tokens);
    if (reach === undefined) return refuseReader(req, res, access.tokens);
    const reader = access.readers[reach];
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
        const view = await reader.release(project, tag);
        if (!view) return notFound(res, reader, map, project, `no release ${tag} of '${project}' in the history`);
        const { releases, downstreams, privateDownstreams } = view;
        return reply(res, 200, { project, tag, release: releases[releases.length - 1] ?? null, releases, downstreams, private_downstreams: privateDownstreams });
      }
      case "commits": {
        if (segments.length !== 2 || !segments[0]) return reply(res, 400, { error: "use /api/v1/commits/{projectId}/{sha}, the project id URL-encoded" });
        const [project, sha] = segments as [string, string];
        if (!/^[0-9a-f]{40}$/.test(sha)) return reply(res, 400, { error: "sha must be a full 40-character commit SHA (lower-case hex)" });
        const view = await reader.commit(project, sha);
        if (!view) return notFound(res, reader, map, project, `no records of commit ${sha} of '${project}'`);
        const { releases, downstreams, privateDownstreams } = view;
        return reply(res, 200, { project, sha, refs: [...new Set(releases.map((r) => r.tag))], releases, downstreams, private_downstreams: privateDownstreams });
      }
      case "records": {
        if (segments.length !== 1) return reply(res, 400, { error: "use /api/v1/records/{cid}" });
        const cid = parseCid(segments[0]!);
        if (!cid) return reply(res, 400, { error: `'${segments[0]}' is not a CID (expected CIDv1 such as bagu…)` });
        const id = cid.toString();
        const bytes = await reader.bytes(id);
        if (!bytes) return reply(res, 404, { error: `no record ${id}` });
        // A record never changes, but it can stop being public: shared caches keep a public one an hour.
        const immutable = {
          "cache-control": reach === "all" ? "private, max-age=31536000, immutable" : "public, max-age=3600", vary: "accept, authorization",
        };
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
        if (await reader.hides(project)) return notFound(res, reader, map, project, "");
        const page = await reader.ofProject(project, limit, before);
        if (page.items.length === 0 && page.next === undefined) return notFound(res, reader, map, project, `no history of '${project}' yet`, { project, items: [], next: null });
        const items = page.items.map((i) => ({ cid: i.cid, seq: i.seq, record: i.record }));
        return reply(res, 200, { project, items, next: page.next ?? null });
      }
      case "history.car": {
        const sinceText = url.searchParams.get("since");
        const since = sinceText === null ? 0 : Date.parse(sinceText);
        if (Number.isNaN(since)) return reply(res, 400, { error: "since must be a date or date-time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z" });
        const after = url.searchParams.get("after") ?? undefined;
        if (after !== undefined && !CURSOR.test(after)) return reply(res, 400, { error: "after must be the cursor a previous part gave (its x-openci-next header, <ms>-<seq>)" });
        const everything = url.searchParams.get("private") === "1";
        if (everything && reach !== "all") return refuseReader(req, res, access.tokens);
        const release = exports.take(clientAddress(req, limits.trustProxy));
        if (!release) return tooMany(res, "history exports", limits.perAddress, "OPENCI_EXPORTS_PER_ADDRESS");
        if (running >= MAX_EXPORTS) {
          release();
          res.setHeader("retry-after", "30");
          return reply(res, 503, { error: "too many history exports on this relay at once: retry later" });
        }
        running++;
        const done = () => (release(), running--);
        res.once("close", done);
        const plan = await (everything ? reader : access.readers.public).exportPlan(since, { after, maxEntries: limits.partRecords ?? 10_000 });
        const nextUrl = () => {
          const q = new URLSearchParams(url.searchParams);
          q.set("after", plan.next!);
          return `${url.pathname}?${q}`;
        };
        res.writeHead(200, {
          "content-type": CAR_TYPE, "content-disposition": 'attachment; filename="openci-history.car"',
          "x-openci-root": plan.root.toString(), "x-openci-records": String(plan.records), "cache-control": "no-store",
          ...(plan.next !== undefined ? { "x-openci-next": plan.next, link: `<${nextUrl()}>; rel="next"` } : {}),
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

/**
 * 404 for a project the map does not know, or that this reader may not see (the same answer: it
 * does not confirm the project exists); a known project with nothing yet gets `empty` (or a 404 saying so).
 */
async function notFound(res: ServerResponse, reader: HistoryReader, map: () => DependencyMap, project: string, message: string, empty?: unknown): Promise<true> {
  if (!map().project(project) || await reader.hides(project)) return reply(res, 404, { error: `no project '${project}' in the dependency map or the history` });
  return empty !== undefined ? reply(res, 200, empty) : reply(res, 404, { error: message });
}

/** A whole-number query parameter: the default when absent, null when not a whole number. */
function intParam<T extends number | undefined>(url: URL, name: string, fallback: T): number | T | null {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  return /^\d+$/.test(v) ? Number(v) : null;
}
