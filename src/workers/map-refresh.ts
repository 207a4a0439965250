import type { Logger } from "pino";
import { ForgeError, classifyHttpError } from "../forge/errors.js";
import type { StatusReport } from "../forge/roles.js";
import { MapError, formatProblem } from "../map/load.js";
import type { LiveMap } from "../map/live-map.js";
import { describeMapRepo, type MapRepoSpec } from "../map/map-repo.js";
import { key } from "../queue/names.js";
import { adoptStoredMap, readSources, readStoredMap, storeMap } from "../map/map-store.js";
import type { MapRefreshJob } from "../queue/job-data.js";
import type { WorkerDeps } from "./deps.js";


const CHECK_NAME = "openci: map";
const REFRESH_LOCK = key("map-repo", "refreshing");
const REFUSED_SHA = key("map-repo", "refused");
const MAX_SUMMARY = 60_000;

/**
 * Reads the metadata repository's map files through the forge API, merges them with the local
 * map and validates the whole. A good version becomes the live map of every process; a bad one
 * is not taken (the last good map stays), its problems are logged and shown on that commit as a
 * failed check (GitHub) or status (GitLab).
 */
export async function processMapRefresh(data: MapRefreshJob, deps: WorkerDeps, log: Logger): Promise<{ taken: boolean; sha?: string }> {
  const spec = deps.mapRepo;
  const live = deps.live;
  if (!spec || !live) return { taken: false };
  // One refresh at a time across all processes, each reading the branch's head (never a commit a
  // payload names: only what is on the branch counts), so the last to run has the newest map.
  const lock = await deps.redis.set(REFRESH_LOCK, String(process.pid), "PX", 120_000, "NX");
  if (lock !== "OK") throw new ForgeError("another process is reading the maps", "transient", { retryAfterMs: 2000 });
  try {
    return await refresh(spec, live, data, deps, log);
  } finally {
    await deps.redis.del(REFRESH_LOCK);
  }
}

async function refresh(spec: MapRepoSpec, live: LiveMap, data: MapRefreshJob, deps: WorkerDeps, log: Logger): Promise<{ taken: boolean; sha?: string }> {
  const { sha, files } = await deps.systems.files({ forge: spec.forge, repo: spec.repo }).readFiles(spec.repo, spec.ref, spec.dir).catch((error: unknown) => {
    throw classifyHttpError(error, `reading the maps of ${describeMapRepo(spec)}`);
  });
  // Nothing new: the version in use, or one already refused (its verdict is on its commit).
  if (sha === (await readStoredMap(deps.redis))?.sha || sha === (await deps.redis.get(REFUSED_SHA))) return { taken: false, sha };
  const texts = files.map((f) => ({ file: `${spec.repo}@${sha.slice(0, 7)}:${f.path}`, text: f.text }));
  const target = { repo: spec.repo, sha, ref: spec.ref };
  try {
    const { map, warnings } = live.build(texts, (await readSources(deps.redis)).declarations);
    await storeMap(deps.redis, { sha, files: texts });
    await adoptStoredMap(deps.redis, live, log);
    for (const w of warnings) log.warn({ sha }, `dependency map: ${formatProblem(w)}`);
    log.info({ repo: describeMapRepo(spec), sha, files: texts.length, projects: map.size, reason: data.reason }, "dependency map: new version taken");
    await report(deps, spec.forge, target, {
      conclusion: "success", title: `Map taken: ${map.size} projects from ${texts.length} file${texts.length === 1 ? "" : "s"}`,
      summary: warnings.length > 0 ? `Warnings:\n\n\`\`\`\n${warnings.map(formatProblem).join("\n")}\n\`\`\``.slice(0, MAX_SUMMARY) : "No problems.",
    }, log);
    return { taken: true, sha };
  } catch (error) {
    if (!(error instanceof MapError)) throw error;
    for (const p of error.problems) log.error({ sha }, `dependency map: ${formatProblem(p)}`);
    log.error({ repo: describeMapRepo(spec), sha, problems: error.problems.length }, "dependency map: new version refused, the last good map stays active");
    await deps.redis.set(REFUSED_SHA, sha);
    await report(deps, spec.forge, target, {
      conclusion: "failure", title: `Map refused: ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}; the relay keeps the last good map`,
      summary: `\`\`\`\n${error.problems.map(formatProblem).join("\n")}\n\`\`\``.slice(0, MAX_SUMMARY),
    }, log);
    return { taken: false, sha };
  }
}

/** The verdict on the metadata commit; a forge that refuses it does not undo the map. */
async function report(
  deps: WorkerDeps, forge: "github" | "gitlab", target: { repo: string; sha: string; ref: string },
  verdict: Pick<StatusReport, "conclusion" | "title" | "summary">, log: Logger,
): Promise<void> {
  const status: StatusReport = { name: CHECK_NAME, status: "completed", detailsUrl: undefined, externalId: `map-${target.sha}`, ...verdict };
  try {
    await deps.systems.reporter({ forge, repo: target.repo }).reportStatus(target, status, undefined);
  } catch (error) {
    log.warn({ err: classifyHttpError(error, "reporting the map's verdict") }, "could not show the map's verdict on its commit");
  }
}
