import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import type { StatusReport } from "../forge/roles.js";
import { DECLARATION_PATH } from "../map/declaration-path.js";
import { placeOf, refOf, type ProjectLocation } from "../map/graph.js";
import { formatProblem } from "../map/load.js";
import { adoptStoredMap, readSources, storeDeclaration } from "../map/map-store.js";
import type { DeclarationJob } from "../queue/job-data.js";
import { placeKey } from "../queue/job-ids.js";
import type { WorkerDeps } from "./deps.js";


/**
 * Reads a downstream repository's own declaration and keeps it with the map's sources when it is
 * valid in the merged map; a version with problems is not taken (they are logged, and shown on
 * the pushed commit), and the declaration leaves when the file is gone. It speaks only for its
 * own repository.
 */
export async function processDeclaration(data: DeclarationJob, deps: WorkerDeps, log: Logger): Promise<{ declared: boolean; refused?: number }> {
  const path = DECLARATION_PATH[data.forge];
  const place = placeKey(data);
  const map = deps.map();
  // The default branch's head, never a commit a payload names: only what is on the branch counts.
  const text = await deps.systems.files(data).readFile(data.repo, path).catch((error: unknown) => {
    throw classifyHttpError(error, `reading ${path} of ${data.repo}`);
  });
  const sources = await readSources(deps.redis);
  const known = sources.declarations.some((d) => placeKey(where(d.location)) === place);
  if (text === undefined) {
    if (known) {
      await storeDeclaration(deps.redis, place, undefined);
      if (deps.live) await adoptStoredMap(deps.redis, deps.live, log);
      log.info({ repo: data.repo, path }, "declaration removed: its edges leave the map");
    }
    return { declared: false };
  }
  const listed = map.projectsAt(refOf(data))[0]?.location;
  const location: ProjectLocation = data.forge === "github"
    ? { forge: "github", repo: data.repo }
    : listed?.forge === "gitlab" ? listed : { forge: "gitlab", project: data.repo, host: data.host, tokenEnv: undefined };
  const declaration = { file: `${data.forge}:${data.host ? `${data.host}/` : ""}${data.repo}/${path}`, text, location };
  const others = sources.declarations.filter((d) => placeKey(where(d.location)) !== place);
  const refused = deps.live
    ? deps.live.build(sources.repo?.files ?? [], [...others, declaration]).refusedDeclarations.filter((p) => p.file === declaration.file)
    : [];
  // Like the map itself: a version with problems is not taken; the last good one stays.
  if (refused.length === 0) {
    await storeDeclaration(deps.redis, place, declaration);
    if (deps.live) await adoptStoredMap(deps.redis, deps.live, log);
  }
  for (const p of refused) log.warn({ repo: data.repo }, `declaration refused, the last good one stays: ${formatProblem(p)}`);
  log.info({ repo: data.repo, path, reason: data.reason, taken: refused.length === 0 }, "declaration read");
  if (data.sha) {
    await report(deps, data, {
      conclusion: refused.length === 0 ? "success" : "failure",
      title: refused.length === 0 ? "Declaration taken into the dependency map" : `Declaration refused: ${refused.length} problem${refused.length === 1 ? "" : "s"}; the last good one stays`,
      summary: refused.length === 0 ? `${path} is part of the relay's map.` : `\`\`\`\n${refused.map(formatProblem).join("\n")}\n\`\`\``,
    }, log);
  }
  return { declared: refused.length === 0, refused: refused.length };
}

function where(location: ProjectLocation): { forge: string; host?: string | undefined; repo: string } {
  const { forge, host, repo } = placeOf(location);
  return { forge, host, repo };
}

async function report(deps: WorkerDeps, data: DeclarationJob, verdict: Pick<StatusReport, "conclusion" | "title" | "summary">, log: Logger): Promise<void> {
  const status: StatusReport = { name: "openci: declaration", status: "completed", detailsUrl: undefined, externalId: `declaration-${data.sha}`, ...verdict };
  try {
    await deps.systems.reporter(data).reportStatus({ repo: data.repo, sha: data.sha!, ref: undefined }, status, undefined);
  } catch (error) {
    log.warn({ err: classifyHttpError(error, "reporting the declaration's verdict") }, "could not show the declaration's verdict on its commit");
  }
}
