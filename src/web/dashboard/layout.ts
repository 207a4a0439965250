import type { Reach } from "../../history/history-reader.js";
import { Html, html } from "./html.js";
import { DASHBOARD_CSS } from "./assets.js";

export interface Page {
  title: string;
  /** what the <main> holds: re-rendered alone for live updates (?fragment=main) */
  main: Html;
  /** the nav entry to mark as current */
  current?: "matrix" | "now" | "projects";
}

/**
 * The page shell: plain HTML that reads without JavaScript; live.js swaps <main> as events arrive.
 * `reach`: whether the reader sees private projects (signed in at /login), as the footer says.
 */
export function layout(page: Page, lastEventId = "", reach: Reach = "public"): Html {
  const nav = (id: Page["current"], path: string, label: string) =>
    html`<a href="${path}"${id === page.current ? html` aria-current="page"` : ""}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · OpenCI Relay</title>
<style>${new Html(DASHBOARD_CSS)}</style>
<script src="/assets/live.js" defer></script>
</head>
<body>
<header>
  <a class="brand" href="/">OpenCI Relay</a>
  <nav aria-label="Main">${nav("matrix", "/", "Releases")} ${nav("now", "/now", "Now / next")} ${nav("projects", "/projects", "Projects")} <a href="/admin/queues">Queues</a></nav>
  <span id="live" role="status" aria-live="polite" class="live">live updates off</span>
</header>
<main id="main" data-last-event-id="${lastEventId}">${page.main}</main>
<footer>Cross-community CI status · <a href="/api/v1/events">event stream</a> · <a href="/metrics">metrics</a> · ${reach === "all"
  ? "signed in: private projects shown"
  : html`public projects only: <a href="/login">sign in</a> with the read token to see private ones`}</footer>
</body>
</html>`;
}
