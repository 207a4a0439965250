import type { ReleaseColumn } from "./data.js";
import { href, html, type Html } from "./html.js";
import type { Page } from "./layout.js";
import { runLink } from "./matrix-page.js";

export interface QueueCounts {
  /** trigger jobs not yet started (waiting, delayed by a rate limit or a retry), among those looked at */
  toTrigger: number;
  /** every job waiting in the trigger queue (runs' timeouts and polls included) */
  queued: number;
  /** false when only the first jobs were looked at: toTrigger is then a lower bound */
  exact: boolean;
}

/**
 * A moment as the relay records it (UTC), said with its zone: "10:00:03 UTC", the date too when it
 * is not today's; the whole ISO time in the title.
 */
export function timeWithZone(iso: string, now = new Date()): Html {
  const day = iso.slice(0, 10);
  const shown = `${day === now.toISOString().slice(0, 10) ? "" : `${day} `}${iso.slice(11, 19)} UTC`;
  return html`<time datetime="${iso}" title="${iso}">${shown}</time>`;
}

/** "Now / next": what runs now, what is queued, what waits on a gate. */
export function nowPage(releases: ReleaseColumn[], queues: QueueCounts): Page {
  const rows = releases.flatMap((r) => r.downstreams.map((d) => ({ r, d })));
  /** A table per section; the Detail column only where the section has something to say in it. */
  const section = (title: string, list: typeof rows, empty: string, extra?: (x: (typeof rows)[number]) => Html | string) => html`
<h2>${title} <span class="muted">(${list.length})</span></h2>
${list.length === 0 ? html`<p class="muted">${empty}</p>` : html`<div class="scroll"><table><caption>${title}</caption>
<thead><tr><th scope="col">Downstream</th><th scope="col">For</th><th scope="col">Status</th><th scope="col">Since</th>${extra ? html`<th scope="col">Detail</th>` : ""}</tr></thead>
<tbody>${list.map((x) => html`<tr><th scope="row"><a href="${href("projects", x.d.project)}">${x.d.project}</a></th>
<td><a href="${href("releases", x.r.release.project, x.r.release.tag)}">${x.r.release.project} ${x.r.release.tag}</a></td>
<td>${runLink(x.d)}</td><td>${timeWithZone(x.d.updatedAt)}</td>${extra ? html`<td>${extra(x)}</td>` : ""}</tr>`)}</tbody></table></div>`}`;
  const main = html`<h1>Now / next</h1>
${section("Running now", rows.filter((x) => x.d.status === "in_progress"), "Nothing is running.")}
${section("Queued next", rows.filter((x) => x.d.status === "queued"), "Nothing is queued.", () => "dispatched, waiting for the downstream to start")}
<p class="small muted">${queues.exact
    ? `${queues.toTrigger} trigger job(s) waiting to be sent to their forge (paced, rate-limited or retrying).`
    : `${queues.queued} job(s) waiting in the trigger queue (trigger jobs, and runs' timeouts and polls); at least ${queues.toTrigger} of them to be sent to their forge.`}</p>
${section("Waiting on a gate", rows.filter((x) => x.d.status === "gated"), "No downstream waits on a gate.", (x) => x.d.gate ? html`after <code>${x.d.gate}</code> succeeds` : "")}`;
  return { title: "Now / next", main, current: "now" };
}
