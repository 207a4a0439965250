import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Reach } from "../../history/history-reader.js";
import type { DependencyMap } from "../../map/graph.js";
import type { Queues } from "../../queue/queues.js";
import { LIVE_JS } from "./assets.js";
import { READ_REALM, readReach, readTokenHint, type ReadTokens } from "../admin-auth.js";
import type { HistoryAccess } from "../history-api.js";
import { recentReleases, visibleColumns, type RecentRelease } from "./data.js";
import { html, type Html } from "./html.js";
import { layout, type Page } from "./layout.js";
import { withoutProjects } from "./map-view.js";
import { matrixPage } from "./matrix-page.js";
import { nowPage, type QueueCounts } from "./now-page.js";
import { projectPage, projectsIndex } from "./project-page.js";
import { releasePage } from "./release-page.js";

/** How many recent releases the pages look at (the matrix shows at most 12 of them). */
const RECENT = 50;

/**
 * The dashboard, read-only: `/` (the matrix), `/releases/{project}/{tag}`, `/projects` and
 * `/projects/{id}`, `/now`. Server-rendered HTML; `?fragment=main` returns only the page's <main>,
 * which /assets/live.js fetches again as events arrive. Public, without what is private; a
 * browser signed in at `/login` with the read (or admin) token sees everything.
 */
export function dashboard(o: { access: HistoryAccess; map: () => DependencyMap; queues: { trigger: Pick<Queues["trigger"], "getJobs" | "getJobCounts"> }; log: Logger }) {
  // Per reach, the latest releases, read again only when that log has grown.
  const recent: Partial<Record<Reach, { id: string; releases: RecentRelease[] }>> = {};
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const url = new URL(req.url ?? "/", "http://relay");
    const path = url.pathname;
    if (path === "/assets/live.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }).end(LIVE_JS);
      return true;
    }
    if (!PAGES.test(path)) return false;
    const reach = readReach(req, o.access.tokens);
    if (path === "/login") {
      if (reach === "all") return res.writeHead(303, { location: "/", "cache-control": "no-store" }).end(), true;
      return signIn(res, url, o.access.tokens);
    }
    if (reach === undefined) return signIn(res, url, o.access.tokens);
    const reader = o.access.readers[reach];
    let segments: string[];
    try {
      segments = path.split("/").slice(1).map((s) => decodeURIComponent(s));
    } catch {
      return sendPage(res, url, 400, errorPage("Bad address", html`<p>The address is not valid URL encoding.</p>`), "", reach);
    }
    const last = await reader.lastLogId();
    const cached = recent[reach]?.id === last ? recent[reach]! : (recent[reach] = { id: last, releases: await recentReleases(reader.store, RECENT) });
    const releases = await visibleColumns(reader, cached.releases);
    // The map's projects hidden from this reader are left out of every page, as if the map had none of them.
    const fullMap = o.map();
    const map = withoutProjects(fullMap, await reader.hidden(fullMap.projects().map((p) => p.id)));
    const send = (status: number, page: Page) => sendPage(res, url, status, page, last, reach);
    if (path === "/") return send(200, matrixPage(map, releases, url.searchParams));
    if (path === "/now") return send(200, nowPage(releases, await queueCounts(o.queues.trigger)));
    if (path === "/projects") return send(200, projectsIndex(map));
    if (segments[0] === "projects" && segments.length === 2) {
      const id = segments[1]!;
      const history = map.project(id) ? (await reader.ofProject(id, 30)).items : [];
      const page = projectPage(map, id, releases, history);
      return page ? send(200, page) : send(404, errorPage("Unknown project", html`<p>No project <code>${id}</code> in the dependency map. <a href="/projects">All projects</a>.</p>`));
    }
    if (segments[0] === "releases" && segments.length === 3) {
      const [, project, tag] = segments as [string, string, string];
      const view = await reader.release(project, tag);
      if (!view) return send(404, errorPage("Unknown release", html`<p>No release <code>${tag}</code> of <code>${project}</code> has been seen.</p>`));
      return send(200, releasePage(map, view, project, tag));
    }
    return false;
  };
}

/** Jobs /now looks at, at most, to tell trigger jobs from runs' timeouts and polls: the page is public. */
const NOW_JOBS = 100;

/**
 * What waits in the trigger queue, counted (cheap whatever its length), and how many of the first
 * NOW_JOBS are trigger jobs (the same queue holds each run's delayed timeout and poll).
 */
async function queueCounts(trigger: Pick<Queues["trigger"], "getJobs" | "getJobCounts">): Promise<QueueCounts> {
  const states = ["waiting", "prioritized", "delayed"] as const;
  const counts = await trigger.getJobCounts(...states);
  const queued = states.reduce((n, s) => n + (counts[s] ?? 0), 0);
  let toTrigger = 0;
  let looked = 0;
  for (const state of states) {
    const take = Math.min(NOW_JOBS - looked, counts[state] ?? 0);
    if (take <= 0) continue;
    toTrigger += (await trigger.getJobs([state], 0, take - 1)).filter((j) => j?.name === "trigger").length;
    looked += take;
  }
  return { toTrigger, queued, exact: looked >= queued };
}

/** The dashboard's own paths: only these ask for credentials (other routes answer for themselves). */
const PAGES = /^\/(login|now|projects(\/[^/]+)?|releases\/[^/]+\/[^/]+)?$/;

function errorPage(title: string, body: Html): Page {
  return { title, main: html`<h1>${title}</h1>${body}<p><a href="/">Back to the releases</a></p>` };
}

/** 401 with a Basic challenge: the browser asks for the token (any user name, the token as password). */
function signIn(res: ServerResponse, url: URL, tokens: ReadTokens): true {
  res.setHeader("www-authenticate", READ_REALM);
  return sendPage(res, url, 401, errorPage("Sign in", html`<p>To see private projects too, sign in with the relay's read token
(<code>OPENCI_READ_TOKEN</code>, or the admin token) as the password; any user name. Without it, <a href="/">the public dashboard</a> needs no sign-in.</p>
<p class="muted small">${readTokenHint(tokens)}.</p>`), "", "public");
}

function sendPage(res: ServerResponse, url: URL, status: number, page: Page, lastEventId: string, reach: Reach): true {
  const body = url.searchParams.get("fragment") === "main" ? page.main.text : layout(page, lastEventId, reach).text;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  }).end(body);
  return true;
}
