import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import { normaliseBranchPush, normaliseDeclarationSources, normaliseGithubTag, type Delivery } from "../events/github.js";
import { DECLARATION_PATH } from "../map/declaration-path.js";
import type { MapRepoSpec } from "../map/map-repo.js";
import type { DeclarationJob, MapRefreshJob } from "../queue/job-data.js";
import { PayloadError } from "../events/parse-payload.js";
import type { CheckEvent } from "../events/check-event.js";
import { normaliseGithubCheckRun, normaliseGithubRerun } from "../events/github-check.js";
import type { RerunEvent } from "../events/rerun-event.js";
import { normaliseGithubCheckSuite, normaliseGithubPullHead, normaliseGithubRun } from "../events/github-run.js";
import type { PullHeadEvent } from "../events/pull-head-event.js";
import type { RunEvent } from "../events/run-event.js";
import type { TagEvent } from "../events/tag-event.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import { normaliseGithubVisibility } from "../events/github-visibility.js";
import type { VisibilityStore } from "../trust/visibility-store.js";

/** Tag events start the flow; workflow_run and check_suite bring downstream results back; check_run opens gates and re-runs. */
export const GITHUB_EVENTS = [
  "create", "push", "release.published", "workflow_run", "check_suite.completed",
  "check_run.completed", "check_run.rerequested", "check_run.requested_action",
  "installation.created", "installation_repositories.added",
  // a repository turned private leaves the public views from then on; one turned public joins them
  "repository.privatized", "repository.publicized",
] as const;

type Normalised =
  | { name: "tag"; data: TagEvent }
  | { name: "run"; data: RunEvent }
  | { name: "check"; data: CheckEvent }
  | { name: "rerun"; data: RerunEvent }
  | { name: "pull-head"; data: PullHeadEvent }
  | { name: "map-refresh"; data: MapRefreshJob & { repo: string } }
  | { name: "declaration"; data: DeclarationJob };

/** What one delivery means to the relay: nothing, one event, or (a check suite) a result and a ready pull-request head. */
function normalise(delivery: Delivery, appId: number, mapRepo: MapRepoSpec | undefined): Normalised[] {
  const events: (Normalised | null)[] = [];
  const push = mapRepo?.forge === "github" ? normaliseBranchPush(delivery) : null;
  if (push && push.repo.toLowerCase() === mapRepo!.repo.toLowerCase() && push.branch === mapRepo!.ref) {
    events.push({ name: "map-refresh", data: { reason: "push", sha: push.sha, deliveryId: delivery.id, repo: push.repo } });
  }
  const run = normaliseGithubRun(delivery) ?? normaliseGithubCheckSuite(delivery, appId);
  events.push(run ? { name: "run", data: run } : null);
  const pullHead = normaliseGithubPullHead(delivery, appId);
  events.push(pullHead ? { name: "pull-head", data: pullHead } : null);
  const rerun = normaliseGithubRerun(delivery);
  events.push(rerun ? { name: "rerun", data: rerun } : null);
  const check = normaliseGithubCheckRun(delivery);
  events.push(check ? { name: "check", data: check } : null);
  const tag = normaliseGithubTag(delivery);
  events.push(tag ? { name: "tag", data: tag } : null);
  for (const d of normaliseDeclarationSources(delivery, DECLARATION_PATH.github)) {
    events.push({ name: "declaration", data: { forge: "github", reason: d.sha ? "push" : "installed", deliveryId: delivery.id, ...d } });
  }
  return events.filter((e): e is Normalised => e !== null);
}

/** Whether the relay listens to a delivery of `name` (GitHub's X-GitHub-Event) with this payload: its event or event.action is in GITHUB_EVENTS. */
export function listensTo(name: string, payload: { action?: unknown }): boolean {
  const events: readonly string[] = GITHUB_EVENTS;
  return events.includes(name) || (typeof payload.action === "string" && events.includes(`${name}.${payload.action}`));
}

/**
 * Thin handler: normalise, enqueue (the signature was checked before). GitHub gets its 2xx only after
 * the event is in Redis; all forge calls happen in the workers. Throws when enqueueing fails.
 */
export function githubDeliveries(
  queues: Pick<Queues, "events">, log: Logger,
  options: { appId: number; mapRepo?: MapRepoSpec | undefined; visibility?: Pick<VisibilityStore, "set"> | undefined },
): (delivery: Delivery) => Promise<void> {
  return async (delivery) => {
    // One log call with the delivery's fields: a child logger per delivery cost more than the call.
    const about = { deliveryId: delivery.id, event: delivery.name };
    // What the payload says of repositories' visibility travels with the delivery's jobs (the worker
    // keeps it before working on them: no extra Redis call here); a change of visibility is kept at once.
    const seen = options.visibility ? normaliseGithubVisibility(delivery) : [];
    for (const v of seen.filter((x) => x.source === "event")) {
      await options.visibility!.set({ forge: "github", repo: v.repo }, v.visibility, v.source);
      log.info({ ...about, repo: v.repo, visibility: v.visibility }, "repository visibility changed");
    }
    const at = Date.now();
    const reported = seen.filter((x) => x.source === "payload").map(({ repo, visibility }) => ({ repo, visibility, at }));
    let events: Normalised[];
    try {
      events = normalise(delivery, options.appId, options.mapRepo);
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      log.warn({ ...about, reason: error.message }, "delivery ignored: payload rejected");
      return;
    }
    if (events.length === 0) return;
    // The first event keeps the delivery's own job id; a second one from the same delivery gets its kind appended.
    const jobs = events.map((e, i) => ({
      name: e.name, data: reported.length > 0 ? { ...e.data, visibility: reported } : e.data,
      opts: { jobId: deliveryJobId("github", i === 0 ? delivery.id : e.name === "declaration" ? `${delivery.id}/declaration/${e.data.repo}` : `${delivery.id}/${e.name}`) },
    }));
    // One event (nearly always) is one `add`: addBulk's pipeline costs about twice as much CPU per job.
    if (jobs.length === 1) await queues.events.add(jobs[0]!.name, jobs[0]!.data, jobs[0]!.opts);
    else await queues.events.addBulk(jobs);
    log.info({ ...about, repo: events[0]!.data.repo, kinds: events.map((e) => e.name) }, "event enqueued");
  };
}

/**
 * The same deliveries through Probot's own webhooks (`probot.receive`, its webhook proxy): HTTP
 * deliveries take the leaner path of github-intake.ts, which never builds Probot's per-event Octokit.
 */
export function githubWebhooks(receive: (delivery: Delivery) => Promise<void>): ApplicationFunction {
  return (app) => {
    app.on([...GITHUB_EVENTS], (context) => receive({ id: context.id, name: context.name, payload: context.payload }));
  };
}
