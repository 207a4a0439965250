import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HistoryStore } from "../../history/history-store.js";
import type { DependencyMap } from "../../map/graph.js";
import type { Queues } from "../../queue/queues.js";
import { LIVE_JS } from "./assets.js";
import { recentReleases, releaseDetail } from "./data.js";
import { html, type Html } from "./html.js";
import { layout, type Page } from "./layout.js";
import { matrixPage } from "./matrix-page.js";
import { nowPage } from "./now-page.js";
import { projectPage, projectsIndex } from "./project-page.js";
import { releasePage } from "./release-page.js";

/** How many recent releases the pages look at (the matrix shows at most 12 of them). */
const RECENT = 50;

/**
 * The dashboard, public and read-only: `/` (the matrix), `/releases/{project}/{tag}`,
 * `/projects` and `/projects/{id}`, `/now`. Server-rendered HTML; `?fragment=main` returns only
 * the page's <main>, which /assets/live.js fetches again as events arrive.
 */
export function dashboard(o: { store: HistoryStore; map: () => DependencyMap; queues: Pick<Queues, "trigger">; log: Logger }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const url = new URL(req.url ?? "/", "http://relay");
    const path = url.pathname;
    if (path === "/assets/live.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }).end(LIVE_JS);
      return true;
    }
    let segments: string[];
    try {
      segments = path.split("/").slice(1).map((s) => decodeURIComponent(s));
    } catch {
      return send(res, url, 400, errorPage("Bad address", html`<p>The address is not valid URL encoding.</p>`));
    }
    const map = o.map();
    if (path === "/") return send(res, url, 200, matrixPage(map, await recentReleases(o.store, RECENT), url.searchParams));
    if (path === "/now") {
      const counts = await o.queues.trigger.getJobCounts("waiting", "delayed", "prioritized");
      return send(res, url, 200, nowPage(await recentReleases(o.store, RECENT), { toTrigger: (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) }));
    }
    if (path === "/projects") return send(res, url, 200, projectsIndex(map));
    if (segments[0] === "projects" && segments.length === 2) {
      const id = segments[1]!;
      const history = await o.store.records((await o.store.ofProject(id, 30)).items.map((i) => i.cid));
      const page = projectPage(map, id, await recentReleases(o.store, RECENT), history);
      return page ? send(res, url, 200, page) : send(res, url, 404, errorPage("Unknown project", html`<p>No project <code>${id}</code> in the dependency map. <a href="/projects">All projects</a>.</p>`));
    }
    if (segments[0] === "releases" && segments.length === 3) {
      const [, project, tag] = segments as [string, string, string];
      const view = await releaseDetail(o.store, project, tag);
      if (view.releases.length === 0) return send(res, url, 404, errorPage("Unknown release", html`<p>No release <code>${tag}</code> of <code>${project}</code> has been seen.</p>`));
      return send(res, url, 200, releasePage(map, view, project, tag));
    }
    return false;
  };
}

function errorPage(title: string, body: Html): Page {
  return { title, main: html`<h1>${title}</h1>${body}<p><a href="/">Back to the releases</a></p>` };
}

function send(res: ServerResponse, url: URL, status: number, page: Page): true {
  const body = url.searchParams.get("fragment") === "main" ? page.main.text : layout(page).text;
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(body);
  return true;
}
