import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import { PayloadError, normaliseGithubTag, type Delivery } from "../events/github.js";
import type { CheckEvent } from "../events/check-event.js";
import { normaliseGithubCheckRun, normaliseGithubRerun } from "../events/github-check.js";
import type { RerunEvent } from "../events/rerun-event.js";
import { normaliseGithubCheckSuite, normaliseGithubRun } from "../events/github-run.js";
import type { RunEvent } from "../events/run-event.js";
import type { TagEvent } from "../events/tag-event.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

/** Tag events start the flow; workflow_run and check_suite bring downstream results back; check_run opens gates and re-runs. */
export const GITHUB_EVENTS = [
  "create", "push", "release.published", "workflow_run", "check_suite.completed",
  "check_run.completed", "check_run.rerequested", "check_run.requested_action",
] as const;

type Normalised =
  | { name: "tag"; data: TagEvent }
  | { name: "run"; data: RunEvent }
  | { name: "check"; data: CheckEvent }
  | { name: "rerun"; data: RerunEvent };

function normalise(delivery: Delivery, appId: number): Normalised | null {
  const run = normaliseGithubRun(delivery) ?? normaliseGithubCheckSuite(delivery, appId);
  if (run) return { name: "run", data: run };
  const rerun = normaliseGithubRerun(delivery);
  if (rerun) return { name: "rerun", data: rerun };
  const check = normaliseGithubCheckRun(delivery);
  if (check) return { name: "check", data: check };
  const tag = normaliseGithubTag(delivery);
  return tag ? { name: "tag", data: tag } : null;
}

/**
 * Thin handler: verify (Probot already checked the signature), normalise, enqueue, answer. GitHub
 * gets its 2xx only after the event is in Redis; all forge calls happen in the workers.
 */
export function githubWebhooks(queues: Pick<Queues, "events">, log: Logger, options: { appId: number }): ApplicationFunction {
  return (app) => {
    app.on([...GITHUB_EVENTS], async (context) => {
      const deliveryLog = log.child({ deliveryId: context.id, event: context.name });
      const delivery: Delivery = { id: context.id, name: context.name, payload: context.payload };
      let event: Normalised | null;
      try {
        event = normalise(delivery, options.appId);
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        deliveryLog.warn({ reason: error.message }, "delivery ignored: payload rejected");
        return;
      }
      if (event === null) return;
      await queues.events.add(event.name, event.data, { jobId: deliveryJobId("github", context.id) });
      deliveryLog.info({ repo: event.data.repo, kind: event.name }, "event enqueued");
    });
  };
}
