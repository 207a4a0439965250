import type { IncomingMessage, ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { readBody, reply, sameSecret } from "./http.js";
import { jenkinsRunEvent } from "../events/jenkins.js";
import { PayloadError } from "../events/parse-payload.js";
import type { RunEvent } from "../events/run-event.js";
import type { DependencyMap } from "../map/graph.js";
import type { MapJenkinsTrigger } from "../map/schema.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

export const JENKINS_NOTIFICATIONS_PATH = "/api/jenkins/notifications/";
/** A notification is a few kilobytes (its `log` is off unless a job asks for lines of it). */
const MAX_BODY = 1024 * 1024;

/**
 * `POST /api/jenkins/notifications/<secret>`: a Jenkins job's Notification plugin endpoint. The
 * secret in the path is the value of the job's `notify_secret_env` (the plugin signs nothing; the
 * URL is its only secret): it says which map entries' jobs may speak, and a notification about
 * another job is refused. The build's state is then read from Jenkins itself before it is shown
 * (the worker confirms a `notification` through the API), so a leaked secret can delay or repeat a
 * result, never forge one. Enqueued under a delivery id of the job, queue item and phase, so the
 * plugin's retries add nothing.
 */
export function jenkinsNotifications(queues: Pick<Queues, "events">, map: () => DependencyMap, env: NodeJS.ProcessEnv, log: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0]!;
    if (!path.startsWith(JENKINS_NOTIFICATIONS_PATH)) return false;
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    const given = decodeURIComponent(path.slice(JENKINS_NOTIFICATIONS_PATH.length));
    const jobs = triggersWithSecret(map(), env, given);
    if (given === "" || jobs.length === 0) {
      log.warn({ from: req.socket.remoteAddress }, "Jenkins notification with an unknown secret: refused (check the job's Notification endpoint URL and the map's notify_secret_env)");
      return reply(res, 401, { error: "unknown notification secret" });
    }
    const raw = await readBody(req, MAX_BODY);
    if (raw === undefined) return reply(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(res, 400, { error: "body is not JSON: set the endpoint's format to JSON" });
    }
    const deliveryId = `jenkins-${createHash("sha256").update(raw).digest("hex").slice(0, 32)}`;
    let event;
    try {
      event = jenkinsRunEvent(body, deliveryId);
    } catch (error) {
      if (error instanceof PayloadError) return reply(res, 400, { error: error.message });
      throw error;
    }
    const trigger = jobs.find((j) => j.job === event.job);
    if (!trigger) {
      log.warn({ job: event.job }, "Jenkins notification about a job this secret is not for: refused");
      return reply(res, 403, { error: `this endpoint's secret is not for the job ${event.job}` });
    }
    const run: RunEvent = {
      forge: "jenkins", source: "notification", repo: event.job, host: trigger.url, runId: event.runId,
      title: event.relayRunId ?? "", state: event.state, ...(event.conclusion ? { conclusion: event.conclusion } : {}),
      webUrl: event.webUrl, ...(event.updatedAt ? { updatedAt: event.updatedAt } : {}), deliveryId,
    };
    await queues.events.add("run", run, { jobId: deliveryJobId("jenkins", deliveryId) });
    log.info({ job: event.job, runId: event.runId, state: event.state, deliveryId }, "Jenkins notification enqueued");
    return reply(res, 202, { queued: true });
  };
}

/** The map's Jenkins triggers whose notify_secret_env holds `given` (compared in constant time). */
function triggersWithSecret(map: DependencyMap, env: NodeJS.ProcessEnv, given: string): MapJenkinsTrigger[] {
  const out: MapJenkinsTrigger[] = [];
  for (const p of map.projects()) {
    const j = p.trigger?.jenkins;
    const secret = j?.notify_secret_env ? env[j.notify_secret_env] : undefined;
    if (j && secret && sameSecret(given, secret)) out.push(j);
  }
  return out;
}
