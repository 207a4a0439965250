import type { MapView } from "./map-view.js";
import type { RunsView } from "../../history/history-reader.js";
import { href, html, safeUrl } from "./html.js";
import type { Page } from "./layout.js";
import { runLink } from "./matrix-page.js";
import { statusBadge } from "./status.js";

const RERUNNABLE = new Set(["failed", "timed_out", "cancelled", "error", "skipped", "neutral"]);

/**
 * One release: the roll-up, and each downstream with its run, failing jobs, artifacts, attempts
 * and record. Private downstreams left out are counted, nothing more.
 */
export function releasePage(map: MapView, view: RunsView, project: string, tag: string): Page {
  const release = view.releases[view.releases.length - 1]!;
  const passed = view.downstreams.filter((d) => d.status === "passed").length;
  const main = html`
<h1>${project} ${tag}</h1>
<dl class="meta">
  <dt>Upstream</dt><dd><a href="${href("projects", project)}">${project}</a> (${release.forge}: ${release.repo})</dd>
  <dt>Commit</dt><dd><code>${release.sha}</code></dd>
  <dt>Seen</dt><dd><time datetime="${release.at}">${release.at}</time> (${release.source})</dd>
  ${release.artifacts.length > 0 ? html`<dt>Artifacts</dt><dd>${release.artifacts.map((a) => html`<code>${a}</code> `)}</dd>` : ""}
  <dt>Record</dt><dd><a href="/api/v1/records/${release.cid}"><code>${release.cid}</code></a></dd>
</dl>
${release.refused !== undefined ? html`<p class="refused" role="status"><strong>Nothing triggered:</strong> ${release.refused}.</p>` : ""}
<p class="rollup"><strong>${passed} of ${view.downstreams.length}</strong> ${view.downstreams.length === 1 ? "downstream" : "downstreams"} passed${view.privateDownstreams > 0
  ? `, and ${view.privateDownstreams} private downstream${view.privateDownstreams === 1 ? "" : "s"} (not shown)` : ""}.</p>
<div class="scroll"><table>
<caption>Downstreams of ${project} ${tag}</caption>
<thead><tr><th scope="col">Downstream</th><th scope="col">Foundation</th><th scope="col">Result</th><th scope="col">Failing jobs</th><th scope="col">Artifacts</th><th scope="col">Attempts</th><th scope="col">Record</th><th scope="col"><span class="sr">Action</span></th></tr></thead>
<tbody>${view.downstreams.map((d) => html`<tr data-downstream="${d.project}" data-status="${d.status}">
<th scope="row"><a href="${href("projects", d.project)}">${d.project}</a>${d.chain ? html`<div class="small muted">cascade: ${d.chain.path.join(" → ")}</div>` : ""}${d.gate ? html`<div class="small muted">after ${d.gate}</div>` : ""}</th>
<td>${map.foundation(map.project(d.project)?.meta?.foundation ?? "")?.name ?? "—"}</td>
<td>${runLink(d)}</td>
<td>${d.failedJobs.length > 0 ? html`<ul class="plain">${d.failedJobs.map((j) => html`<li>${j}</li>`)}</ul>` : "—"}</td>
<td>${d.artifacts.length > 0 ? html`<ul class="plain">${d.artifacts.map((a) => html`<li>${safeUrl(a.url) ? html`<a href="${safeUrl(a.url)}">${a.name}</a>` : a.name}</li>`)}</ul>` : "—"}</td>
<td>${d.attempts.length > 1 ? d.attempts.map((a, i) => html`${i > 0 ? ", " : ""}${statusBadge(a.status)}`) : "1"}</td>
<td><a class="small" href="/api/v1/records/${d.cid}"><code>${d.cid.slice(0, 16)}…</code></a></td>
<td>${RERUNNABLE.has(d.status) && !d.chain ? html`<form method="post" action="/admin/reruns"><input type="hidden" name="upstream" value="${project}"><input type="hidden" name="sha" value="${release.sha}"><input type="hidden" name="downstream" value="${d.project}"><button type="submit" title="needs the admin token">Re-run</button></form>` : ""}</td>
</tr>`)}</tbody>
</table></div>`;
  return { title: `${project} ${tag}`, main, current: "matrix" };
}
