import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import { PayloadError, normaliseGithubTag, type Delivery } from "../events/github.js";
import { normaliseGithubRun } from "../events/github-run.js";
import type { RunEvent } from "../events/run-event.js";
import type { TagEvent } from "../events/tag-event.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

/** Tag events start the flow; workflow_run events bring downstream results back. */
export const GITHUB_EVENTS = ["create", "push", "release.published", "workflow_run"] as const;

/**
 * Thin handler: verify (Probot already checked the signature), normalise, enqueue, answer. GitHub
 * gets its 2xx only after the event is in Redis; all forge calls happen in the workers.
 */
export function githubWebhooks(queues: Pick<Queues, "events">, log: Logger): ApplicationFunction {
  return (app) => {
    app.on([...GITHUB_EVENTS], async (context) => {
      const deliveryLog = log.child({ deliveryId: context.id, event: context.name });
      const delivery: Delivery = { id: context.id, name: context.name, payload: context.payload };
      let event: { name: "tag"; data: TagEvent } | { name: "run"; data: RunEvent } | null;
      try {
        const run = normaliseGithubRun(delivery);
        const tag = run ? null : normaliseGithubTag(delivery);
        event = run ? { name: "run", data: run } : tag ? { name: "tag", data: tag } : null;
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
