import { describeFilter } from "../../map/edge-filter.js";
import { repoOf, type Project, type ProjectMeta } from "../../map/graph.js";
import type { MapView } from "./map-view.js";
import type { HistoryRecord } from "../../history/record.js";
import type { DownstreamStatus } from "../../history/release-view.js";
import type { ReleaseColumn } from "./data.js";
import { graphSvg } from "./graph-svg.js";
import { count, href, html, safeUrl, type Html } from "./html.js";
import type { Page } from "./layout.js";
import { runLink } from "./matrix-page.js";

/**
 * What a repository's own declaration says about itself: not reviewed, so labelled as declared,
 * shown as text (never a link) and kept apart from the map's word above.
 */
function declaredMeta(meta: ProjectMeta | undefined): Html | "" {
  if (!meta) return "";
  const rows = ([["Foundation", meta.foundation], ["About", meta.description], ["Home page", meta.homepage], ["Contact", meta.contact], ["CI", meta.ci],
    ["Releases", meta.artifacts?.join(" ")]] as const).filter(([, v]) => v !== undefined && v !== "");
  if (rows.length === 0) return "";
  return html`<h2>Declared by the repository</h2>
<p class="declared">Not reviewed: what this repository's own declaration says about itself.</p>
<dl class="meta declared">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v} <small>(declared by the repository)</small></dd>`)}</dl>`;
}

/** The latest outcome of each project as a downstream, over these releases (newest first). */
export function latestOutcomes(releases: ReleaseColumn[]): (id: string, upstream?: string) => ReleaseColumn["downstreams"][number] | undefined {
  return (id, upstream) => {
    for (const r of releases) {
      if (upstream !== undefined && r.release.project !== upstream) continue;
      const d = r.downstreams.find((x) => x.project === id);
      if (d) return d;
    }
    return undefined;
  };
}

/**
 * A watched upstream (a git host, or `watch:` in its map entry): no webhook comes from it, the relay
 * reads its tags, and writes nothing there.
 */
function watchedNote(project: Pick<Project, "location" | "watch">) {
  // A plain git host and Gerrit send the relay no webhook: their upstreams are always watched.
  if (project.location.forge !== "git" && project.location.forge !== "gerrit" && project.watch === undefined) return "";
  const every = project.watch?.intervalMs === undefined ? "at the relay's watch interval" : `every ${formatDuration(project.watch.intervalMs)}`;
  if (project.location.forge === "gerrit") {
    const streamed = project.location.ssh ? " and follows its stream of events" : "";
    return html`<dt>Watched</dt><dd>no webhook comes from Gerrit: the relay reads its tags ${every}${streamed}; nothing is written about its tags there</dd>`;
  }
  return html`<dt>Watched</dt><dd>no webhook comes from it: the relay reads its tags ${every}, and writes nothing there</dd>`;
}

const formatDuration = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`);

/** A project: what it is, its upstreams and dependants with their latest outcomes, the graph around it, its history. */
export function projectPage(map: MapView, id: string, releases: ReleaseColumn[], history: { cid: string; record: HistoryRecord }[]): Page | undefined {
  const project = map.project(id);
  if (!project) return undefined;
  const latest = latestOutcomes(releases);
  const meta = project.meta ?? {};
  const own = releases.filter((r) => r.release.project === id);
  const main = html`
<h1>${id}</h1>
<dl class="meta">
  <dt>Where</dt><dd>${project.location.forge}: ${project.location.forge === "gerrit" ? `${new URL(project.location.url).host} ` : ""}${repoOf(project)}</dd>
  ${watchedNote(project)}
  ${project.trigger?.jenkins ? html`<dt>Runs on</dt><dd>Jenkins: job <code>${project.trigger.jenkins.job}</code> on ${new URL(project.trigger.jenkins.url).host}</dd>` : ""}
  ${meta.foundation ? html`<dt>Foundation</dt><dd>${map.foundation(meta.foundation)?.name ?? meta.foundation}</dd>` : ""}
  ${meta.description ? html`<dt>About</dt><dd>${meta.description}</dd>` : ""}
  ${meta.homepage ? html`<dt>Home page</dt><dd>${safeUrl(meta.homepage) ? html`<a href="${safeUrl(meta.homepage)}">${meta.homepage}</a>` : meta.homepage}</dd>` : ""}
  ${meta.contact ? html`<dt>Contact</dt><dd>${meta.contact}</dd>` : ""}
  ${meta.ci ? html`<dt>CI</dt><dd>${meta.ci}</dd>` : ""}
  ${meta.artifacts?.length ? html`<dt>Releases</dt><dd>${meta.artifacts.map((a) => html`<code>${a}</code> `)}</dd>` : ""}
</dl>
${declaredMeta(project.declaredMeta)}
<h2>Dependency graph</h2>
${graphSvg(map, id, (x) => nodeStatus(map, id, x, latest))}
<h2>Upstreams</h2>
${table(["Upstream", "When", "Latest result here"], map.upstreamsOf(id).map((e) => [
  html`<a href="${href("projects", e.upstream)}">${e.upstream}</a>`,
  html`${describeFilter(e.filter)}${e.after_check ? html`, after ${e.after_check}` : ""}${e.cascade ? ", cascades" : ""}`,
  outcome(latest(id, e.upstream)),
]), `${id} depends on these`)}
<h2>Dependants</h2>
${table(["Dependant", "When", `Latest result for ${id}`], map.allDependants(id).map(({ project: p, edge }) => [
  html`<a href="${href("projects", p.id)}">${p.id}</a>`, describeFilter(edge.filter), outcome(latest(p.id, id)),
]), `These depend on ${id}`)}
${own.length > 0 ? html`<h2>Releases</h2><ul class="plain">${own.map((r) => html`<li><a href="${href("releases", id, r.release.tag)}">${r.release.tag}</a> <span class="muted small">${r.release.at.slice(0, 16).replace("T", " ")}</span> — ${r.downstreams.filter((d) => d.status === "passed").length} of ${count(r.downstreams.length, "downstream")} passed</li>`)}</ul>` : ""}
<h2>History</h2>
${history.length === 0 ? html`<p class="muted">Nothing recorded yet.</p>` : html`<ol class="plain small">${history.map(({ cid, record }) => html`<li><time datetime="${record.at}">${record.at.slice(0, 19).replace("T", " ")}</time> ${describe(record)} <a href="/api/v1/records/${cid}" class="muted">record</a></li>`)}</ol>
<p class="small"><a href="/api/v1/projects/${encodeURIComponent(id)}/history">All of it (JSON, paged)</a></p>`}`;
  return { title: id, main, current: "projects" };
}

/** Every project, by foundation. */
export function projectsIndex(map: MapView): Page {
  const groups = new Map<string, string[]>();
  for (const p of map.projects()) {
    const f = p.meta?.foundation ?? "other";
    groups.set(f, [...(groups.get(f) ?? []), p.id]);
  }
  const main = html`<h1>Projects</h1>${[...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([f, ids]) => html`
<h2>${map.foundation(f)?.name ?? f}</h2><ul class="plain">${ids.sort().map((id) => html`<li><a href="${href("projects", id)}">${id}</a> <span class="small muted">${count(map.allDependants(id).length, "dependant")}, ${count(map.upstreamsOf(id).length, "upstream")}</span></li>`)}</ul>`)}`;
  return { title: "Projects", main, current: "projects" };
}

/**
 * A node's colour in the graph around `center`: an upstream by how `center` did on its releases,
 * `center` by its latest run, a dependant by how it did on `center`'s releases (else its latest).
 */
function nodeStatus(map: MapView, center: string, id: string, latest: ReturnType<typeof latestOutcomes>): DownstreamStatus | undefined {
  if (id === center) return latest(center)?.status;
  if (map.upstreamsOf(center).some((e) => e.upstream === id)) return latest(center, id)?.status;
  return (latest(id, center) ?? latest(id))?.status;
}

function outcome(d: ReturnType<ReturnType<typeof latestOutcomes>>): Html | string {
  return d ? runLink(d) : "—";
}

function table(head: string[], rows: (Html | string)[][], caption: string): Html {
  if (rows.length === 0) return html`<p class="muted">None.</p>`;
  return html`<div class="scroll"><table><caption>${caption}</caption><thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map(([first, ...rest]) => html`<tr><th scope="row">${first}</th>${rest.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`;
}

function describe(r: HistoryRecord): string {
  switch (r.kind) {
    case "release": return `release ${r.tag} at ${r.sha.slice(0, 8)}`;
    case "trigger": return `${r.upstream} → ${r.downstream}: trigger ${r.outcome}${r.attempt > 0 ? ` (re-run ${r.attempt})` : ""}`;
    case "run": return `${r.upstream} → ${r.downstream}: run ${r.state}${r.conclusion ? ` (${r.conclusion})` : ""}`;
    case "gate": return `${r.upstream} → ${r.downstream}: gate ${r.check} ${r.decision}`;
    case "test-output": return `${r.upstream} → ${r.downstream}: test output ${r.name}`;
  }
}
