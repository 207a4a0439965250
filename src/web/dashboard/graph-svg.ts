import type { MapView } from "./map-view.js";
import type { DownstreamStatus } from "../../history/release-view.js";
import { count, href, html, type Html } from "./html.js";
import { STATUS } from "./status.js";

const W = 190;
const H = 34;
const GAP_X = 70;
const GAP_Y = 14;
const PAD = 16;
const FILL: Record<string, [string, string]> = {
  passed: ["#dafbe1", "#116329"], failed: ["#ffebe9", "#a40e26"], error: ["#ffebe9", "#a40e26"], refused: ["#ffebe9", "#a40e26"],
  in_progress: ["#ddf4ff", "#0550ae"], queued: ["#ddf4ff", "#0550ae"], gated: ["#fff8c5", "#6e5400"], timed_out: ["#fff8c5", "#6e5400"],
};

/**
 * The dependency graph around a project as SVG: its upstreams on the left, the project, its
 * dependants and theirs on the right (two hops), each node coloured by its latest outcome.
 */
export function graphSvg(map: MapView, projectId: string, latest: (id: string) => DownstreamStatus | undefined): Html {
  const upstreams = map.upstreamsOf(projectId).map((e) => e.upstream);
  const first = map.allDependants(projectId).map((d) => d.project.id);
  const second = [...new Set(first.flatMap((id) => map.allDependants(id).map((d) => d.project.id)))].filter((id) => id !== projectId && !first.includes(id) && !upstreams.includes(id));
  const columns = [upstreams, [projectId], first, second].filter((c, i) => c.length > 0 || i === 1);
  const tallest = Math.max(...columns.map((c) => c.length));
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y;
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GAP_X;
  const at = new Map<string, { x: number; y: number }>();
  columns.forEach((col, ci) => {
    const top = (height - (col.length * H + (col.length - 1) * GAP_Y)) / 2;
    col.forEach((id, ri) => at.set(id, { x: PAD + ci * (W + GAP_X), y: top + ri * (H + GAP_Y) }));
  });
  const edges: [string, string][] = [
    ...upstreams.map((u): [string, string] => [u, projectId]),
    ...first.map((d): [string, string] => [projectId, d]),
    ...first.flatMap((d) => map.allDependants(d).map((x): [string, string] => [d, x.project.id]).filter(([, x]) => second.includes(x))),
  ];
  const node = (id: string) => {
    const p = at.get(id)!;
    const status = latest(id);
    const [fill, stroke] = (status && FILL[status]) ?? ["#f6f8fa", "#57606a"];
    const label = id.length > 24 ? `${id.slice(0, 23)}…` : id;
    return html`<a href="${href("projects", id)}"><g><title>${id}${status ? `: ${STATUS[status].label}` : ""}</title>
<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${fill}" stroke="${stroke}" stroke-width="${id === projectId ? 3 : 1.5}"/>
<text x="${p.x + W / 2}" y="${p.y + H / 2 + 5}" text-anchor="middle" font-size="13" fill="#1b1f24">${label}${status ? ` · ${STATUS[status].label}` : ""}</text></g></a>`;
  };
  return html`<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="group" aria-labelledby="graph-title graph-desc">
<title id="graph-title">Dependency graph around ${projectId}</title>
<desc id="graph-desc">${count(upstreams.length, "upstream")} (left), ${count(first.length, "dependant")} and ${second.length} of theirs (right), coloured by their latest outcome.</desc>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>
${edges.map(([a, b]) => {
  const p = at.get(a)!;
  const q = at.get(b)!;
  return html`<line x1="${p.x + W}" y1="${p.y + H / 2}" x2="${q.x}" y2="${q.y + H / 2}" stroke="#8c959f" stroke-width="1.3" marker-end="url(#arrow)"/>`;
})}
${[...at.keys()].map(node)}
</svg>`;
}
