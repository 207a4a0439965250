import type { ApplicationFunction } from "probot";
import type { Logger } from "pino";
import { PayloadError, normaliseGithubTag } from "../events/github.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

export const TAG_EVENTS = ["create", "push", "release.published"] as const;

/**
 * Thin handler: verify (Probot already checked the signature), normalise, enqueue, answer. GitHub
 * gets its 2xx only after the event is in Redis; all forge calls happen in the workers.
 */
export function githubWebhooks(queues: Pick<Queues, "events">, log: Logger): ApplicationFunction {
  return (app) => {
    app.on([...TAG_EVENTS], async (context) => {
      const deliveryLog = log.child({ deliveryId: context.id, event: context.name });
      let event;
      try {
        event = normaliseGithubTag({ id: context.id, name: context.name, payload: context.payload });
      } catch (error) {
        if (!(error instanceof PayloadError)) throw error;
        deliveryLog.warn({ reason: error.message }, "delivery ignored: payload rejected");
        return;
      }
      if (event === null) return;
      await queues.events.add("tag", event, { jobId: deliveryJobId("github", context.id) });
      deliveryLog.info({ repo: event.repo, tag: event.tag, source: event.source }, "tag event enqueued");
    });
  };
}
