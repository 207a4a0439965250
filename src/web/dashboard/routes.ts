import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { HistoryStore } from "../../history/history-store.js";
import type { DependencyMap } from "../../map/graph.js";
import type { Queues } from "../../queue/queues.js";
import { LIVE_JS } from "./assets.js";
import { recentReleases, releaseDetail, type ReleaseColumn } from "./data.js";
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
  let recent: { id: string; releases: ReleaseColumn[] } | undefined;
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
      return sendPage(res, url, 400, errorPage("Bad address", html`<p>The address is not valid URL encoding.</p>`), "");
    }
    const map = o.map();
    // The pages share one view of the latest releases, built again only when the history has grown.
    const last = await o.store.lastLogId();
    if (recent?.id !== last) recent = { id: last, releases: await recentReleases(o.store, RECENT) };
    const releases = recent.releases;
    const send = (status: number, page: Page) => sendPage(res, url, status, page, last);
    if (path === "/") return send(200, matrixPage(map, releases, url.searchParams));
    if (path === "/now") {
      // Only trigger jobs: the same queue holds each run's delayed timeout and poll.
      const pending = await o.queues.trigger.getJobs(["waiting", "delayed", "prioritized"], 0, 999);
      return send(200, nowPage(releases, { toTrigger: pending.filter((j) => j?.name === "trigger").length }));
    }
    if (path === "/projects") return send(200, projectsIndex(map));
    if (segments[0] === "projects" && segments.length === 2) {
      const id = segments[1]!;
      const history = await o.store.records((await o.store.ofProject(id, 30)).items.map((i) => i.cid));
      const page = projectPage(map, id, releases, history);
      return page ? send(200, page) : send(404, errorPage("Unknown project", html`<p>No project <code>${id}</code> in the dependency map. <a href="/projects">All projects</a>.</p>`));
    }
    if (segments[0] === "releases" && segments.length === 3) {
      const [, project, tag] = segments as [string, string, string];
      const view = await releaseDetail(o.store, project, tag);
      if (view.releases.length === 0) return send(404, errorPage("Unknown release", html`<p>No release <code>${tag}</code> of <code>${project}</code> has been seen.</p>`));
      return send(200, releasePage(map, view, project, tag));
    }
    return false;
  };
}

function errorPage(title: string, body: Html): Page {
  return { title, main: html`<h1>${title}</h1>${body}<p><a href="/">Back to the releases</a></p>` };
}

function sendPage(res: ServerResponse, url: URL, status: number, page: Page, lastEventId: string): true {
  const body = url.searchParams.get("fragment") === "main" ? page.main.text : layout(page, lastEventId).text;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  }).end(body);
  return true;
}
