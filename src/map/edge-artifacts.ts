import { formatPurl, parseArtifact, PurlError } from "../artifacts/purl.js";
import type { Edge, Project } from "./graph.js";
import type { Placed } from "./normalise.js";

/**
 * An edge's `after_artifacts` (format v2) as the upstream's artifacts it waits for, written as the
 * upstream's entry writes them: all of them for `true`, else those listed. Undefined: no artifact gate.
 */
export function gatedArtifacts(upstream: Pick<Project, "meta"> | undefined, edge: Pick<Edge, "after_artifacts">): string[] | undefined {
  if (!edge.after_artifacts) return undefined;
  const all = upstream?.meta?.artifacts ?? [];
  if (edge.after_artifacts === true) return all;
  return edge.after_artifacts.map((listed) => all.find((a) => sameArtifact(a, listed)) ?? listed);
}

/** The same package URL, however written (percent-encoding, qualifier order, case where the type ignores it). */
function sameArtifact(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return formatPurl(parseArtifact(a)) === formatPurl(parseArtifact(b));
  } catch {
    return false;
  }
}

/**
 * At load: every artifact an edge waits for must be one of its upstream's `artifacts`, and one the
 * relay can check (parseArtifact: a type it checks, no fixed version, an oci registry named, …).
 */
export function artifactGateProblems(projects: Placed<Project>[], edges: Placed<Edge>[]): { file: string; path: (string | number)[]; message: string }[] {
  const problems: { file: string; path: (string | number)[]; message: string }[] = [];
  const byId = new Map(projects.map((p) => [p.value.id, p]));
  const reported = new Set<string>();
  for (const e of edges) {
    const gate = e.value.after_artifacts;
    const upstream = byId.get(e.value.upstream);
    if (!gate || !upstream) continue;
    const at = (message: string, ...rest: (string | number)[]) => problems.push({ file: e.file, path: [...e.path, "after_artifacts", ...rest], message });
    const all = upstream.value.meta?.artifacts ?? [];
    if (all.length === 0) {
      at(`'${e.value.upstream}' lists no artifacts to wait for: add them to its entry (artifacts: ["pkg:pypi/<name>", "pkg:oci/<name>@{tag}?repository_url=<registry>/<path>"]) or remove after_artifacts`);
      continue;
    }
    if (gate !== true) {
      gate.forEach((listed, i) => {
        if (!all.some((a) => sameArtifact(a, listed))) {
          at(`${JSON.stringify(listed)} is not one of '${e.value.upstream}''s artifacts (${all.join(", ")}): after_artifacts lists the upstream's own artifacts, as its entry writes them; add it there or fix it here`, i);
        }
      });
    }
    for (const template of gatedArtifacts(upstream.value, e.value) ?? []) {
      const i = all.indexOf(template);
      if (i < 0 || reported.has(`${upstream.value.id}\u0000${i}`)) continue;
      try {
        const parsed = parseArtifact(template);
        if (parsed.type === "github" && parsed.qualifiers.repository_url !== undefined) {
          throw new PurlError(`${JSON.stringify(template)}: a github release is read on the relay's own GitHub`, "remove repository_url (GHE_HOST says which GitHub the relay talks to)");
        }
      } catch (err) {
        if (!(err instanceof PurlError)) throw err;
        reported.add(`${upstream.value.id}\u0000${i}`);
        problems.push({
          file: upstream.file, path: [...upstream.path, "artifacts", i],
          message: `${err.message}: ${err.hint}. '${e.value.downstream}' waits for it (after_artifacts), so the relay must be able to check it`,
        });
      }
    }
  }
  return problems;
}
