import type { MapView } from "./map-view.js";
import type { DownstreamView } from "../../history/release-view.js";
import type { ReleaseColumn } from "./data.js";
import { href, html, safeUrl, type Html } from "./html.js";
import type { Page } from "./layout.js";
import { statusBadge } from "./status.js";

const COLUMNS = 12;

/**
 * The matrix: recent upstream releases as columns, downstream projects as rows grouped by
 * foundation, each cell the downstream's latest outcome for that release, linking to its run.
 */
export function matrixPage(map: MapView, releases: ReleaseColumn[], query: URLSearchParams): Page {
  const foundation = query.get("foundation") || undefined;
  const project = query.get("project") || undefined;
  const foundationOf = (id: string) => map.project(id)?.meta?.foundation ?? "other";
  const rowShown = (id: string, col: ReleaseColumn) =>
    (foundation === undefined || foundationOf(id) === foundation) && (project === undefined || col.release.project === project || id === project);
  const columns = releases.filter((c) => c.downstreams.some((d) => rowShown(d.project, c))).slice(0, COLUMNS);
  const rows = [...new Set(columns.flatMap((c) => c.downstreams.filter((d) => rowShown(d.project, c)).map((d) => d.project)))].sort();
  const groups = new Map<string, string[]>();
  for (const id of rows) groups.set(foundationOf(id), [...(groups.get(foundationOf(id)) ?? []), id]);
  const cell = (c: ReleaseColumn, id: string): Html => {
    const d = c.downstreams.find((x) => x.project === id);
    if (!d || !rowShown(id, c)) return html`<td class="cell muted"><span aria-hidden="true">—</span><span class="sr">not a dependant of this release</span></td>`;
    return html`<td class="cell" data-release="${c.cid}" data-downstream="${id}" data-status="${d.status}">${runLink(d)}</td>`;
  };

  const main = html`
<h1>Cross-project status</h1>
${filters(map, foundation, project)}
${columns.length === 0 ? html`<p>No releases ${foundation || project ? "match these filters" : "yet"}: when an upstream in the map tags a release, it shows here.</p>` : html`
<p class="muted small">Downstream projects (rows, by foundation) for the latest ${columns.length} upstream releases (columns); each cell links to the downstream run. Updates live.</p>
<div class="scroll">
<table class="matrix">
<caption class="sr">Latest upstream releases and their downstreams</caption>
<thead><tr><th scope="col">Downstream</th>${columns.map((c) => html`<th scope="col"><a href="${href("releases", c.release.project, c.release.tag)}">${c.release.project}<br>${c.release.tag}</a><div class="small muted"><time datetime="${c.release.at}">${c.release.at.slice(0, 16).replace("T", " ")}</time>${c.release.source === "watch" ? html`<br><span title="no webhook: the relay found this tag by reading the upstream's tags">watched</span>` : ""}</div></th>`)}</tr></thead>
${[...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([f, ids]) => html`<tbody>
<tr><th scope="rowgroup" class="group" colspan="${columns.length + 1}">${map.foundation(f)?.name ?? f}</th></tr>
${ids.map((id) => html`<tr><th scope="row"><a href="${href("projects", id)}">${id}</a></th>${columns.map((c) => cell(c, id))}</tr>`)}
</tbody>`)}
</table>
</div>`}`;
  return { title: "Releases", main, current: "matrix" };
}

/** The status, linked to the run when there is one; failing jobs in the title. */
export function runLink(d: Pick<DownstreamView, "status" | "url" | "failedJobs">): Html {
  const badge = statusBadge(d.status);
  const title = d.failedJobs.length > 0 ? `failing: ${d.failedJobs.join(", ")}` : undefined;
  const url = safeUrl(d.url);
  return url ? html`<a href="${url}"${title ? html` title="${title}"` : ""}>${badge}</a>` : badge;
}

function filters(map: MapView, foundation: string | undefined, project: string | undefined): Html {
  return html`<form class="filters" method="get" action="/">
<label>Foundation <select name="foundation"><option value="">all</option>${map.foundations().map((f) => html`<option value="${f.id}"${f.id === foundation ? html` selected` : ""}>${f.name}</option>`)}</select></label>
<label>Project <select name="project"><option value="">all</option>${map.projects().map((p) => p.id).sort().map((id) => html`<option${id === project ? html` selected` : ""}>${id}</option>`)}</select></label>
<button type="submit">Filter</button>
</form>`;
}
