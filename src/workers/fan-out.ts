import { UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { classifyHttpError } from "../forge/errors.js";
import { refOf, runPlaceOf, type Dependant, type Project } from "../map/graph.js";
import type { TagEvent } from "../queue/job-data.js";
import { unsafeTagReason } from "../events/tag-event.js";
import type { Source } from "../forge/roles.js";
import type { WorkerDeps } from "./deps.js";
import { enqueueTriggers } from "./enqueue-triggers.js";

export interface FanOutResult {
  upstreams: number;
  triggers: number;
  sha?: string;
}

/** A tag event → the commit it names → one trigger job (and one queued upstream check) per matching dependant. */
export async function fanOut(event: TagEvent, deps: WorkerDeps, log: Logger): Promise<FanOutResult> {
  const map = deps.map();
  const upstreams = map.projectsAt(refOf(event));
  if (upstreams.length === 0) {
    log.info({ repo: event.repo, tag: event.tag }, "tag on a repository the map does not list");
    return { upstreams: 0, triggers: 0 };
  }
  await Promise.all(upstreams.map((u) => deps.seen.mark(u.id, [event.tag])));
  const unsafe = unsafeTagReason(event.tag);
  if (unsafe !== undefined) {
    const sha = await resolve(deps.systems.source(event), event, log);
    for (const upstream of upstreams) await deps.history.release({ ...releaseOf(event, upstream, sha), refused: unsafe });
    log.warn({ repo: event.repo, tag: event.tag, sha, reason: unsafe }, "tag recorded but not passed on: nothing triggered");
    return { upstreams: upstreams.length, triggers: 0, sha };
  }
  const all = (await Promise.all(upstreams.map((upstream) =>
    actionable(upstream, map.dependantsFor(upstream.id, event.tag, event.source === "release" ? "release" : "tag"), deps, log)))).flat();
  const cap = deps.limits?.perEvent ?? Number.POSITIVE_INFINITY;
  const work = all.slice(0, cap);
  if (all.length > cap) {
    log.error({ repo: event.repo, tag: event.tag, matched: all.length, cap, left_out: all.slice(cap).map((w) => w.project.id) },
      "fan-out cap: this tag matches more dependants than OPENCI_MAX_TRIGGERS_PER_EVENT allows; the first ones in map order are triggered");
  }
  if (work.length === 0) {
    log.info({ repo: event.repo, tag: event.tag }, "tag matched no dependant");
    return { upstreams: upstreams.length, triggers: 0 };
  }

  const sha = await resolve(deps.systems.source(event), event, log);
  for (const upstream of new Set(work.map((w) => w.upstream))) await deps.history.release(releaseOf(event, upstream, sha));
  const { now, gated } = await enqueueTriggers(deps, { ...event, ref: event.tag }, sha, work, log);
  log.info({ repo: event.repo, tag: event.tag, sha, downstreams: now, gated }, "triggers enqueued");
  return { upstreams: upstreams.length, triggers: now.length + gated.length, sha };
}

/**
 * The commit the tag names, read from the forge: a delivery's word alone is not taken (a GitLab
 * Tag Push Hook at a commit the tag is not on is refused by the forge's resolveTag).
 */
async function resolve(source: Source, event: TagEvent, log: Logger): Promise<string> {
  try {
    return await source.resolveTag(event.repo, event.tag, event.sha);
  } catch (error) {
    const e = classifyHttpError(error, `resolving tag ${event.tag} of ${event.repo}`);
    if (e.kind !== "config") throw e;
    log.error({ err: e, hint: e.hint, repo: event.repo, tag: event.tag, deliverySha: event.sha }, "tag cannot be resolved: nothing triggered");
    throw new UnrecoverableError(e.message);
  }
}

function releaseOf(event: TagEvent, upstream: Project, sha: string) {
  return {
    upstream, forge: event.forge, host: event.host, repo: event.repo, tag: event.tag, sha,
    source: event.source,
  };
}

async function actionable(upstream: Project, dependants: Dependant[], deps: WorkerDeps, log: Logger) {
  const work = [];
  for (const { project, edge } of dependants) {
    if (!deps.systems.plays(runPlaceOf(project).forge, "runner")) {
      log.warn({ upstream: upstream.id, downstream: project.id, system: runPlaceOf(project).forge }, "nothing runs pipelines on this system for the relay: dependant not triggered");
    } else if (!(await deps.surface.mayTrigger(upstream, edge))) {
      log.info({ upstream: upstream.id, downstream: project.id }, "a private upstream triggers only edges of the reviewed map: self-declared dependant not triggered");
    } else {
      work.push({ upstream, project, gate: edge.after_check });
    }
  }
  return work;
}
