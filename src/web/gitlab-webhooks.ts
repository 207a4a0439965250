import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { normaliseGitlabPipeline } from "../events/gitlab.js";
import { PayloadError } from "../events/parse-payload.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

export const GITLAB_WEBHOOK_PATH = "/api/gitlab/webhooks";
const MAX_BODY = 25 * 1024 * 1024;

/**
 * `POST /api/gitlab/webhooks`: the X-Gitlab-Token is compared in constant time with
 * GITLAB_WEBHOOK_SECRET (anything else: 401), the body parsed and normalised, and the event
 * enqueued under its Idempotency-Key / X-Gitlab-Event-UUID, so GitLab's retries add nothing.
 */
export function gitlabWebhooks(queues: Pick<Queues, "events">, log: Logger, options: { secret: string | undefined }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== GITLAB_WEBHOOK_PATH) return false;
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    if (!options.secret || !sameSecret(String(req.headers["x-gitlab-token"] ?? ""), options.secret)) {
      req.resume();
      if (!options.secret) log.warn("GitLab webhook refused: set GITLAB_WEBHOOK_SECRET and the same secret token on the webhook");
      return reply(res, 401, { error: "X-Gitlab-Token does not match" });
    }
    const raw = await readBody(req);
    if (raw === undefined) return reply(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(res, 400, { error: "body is not JSON" });
    }
    const event = String(req.headers["x-gitlab-event"] ?? "");
    const deliveryId = String(req.headers["idempotency-key"] ?? req.headers["x-gitlab-event-uuid"] ?? createHash("sha256").update(raw).digest("hex"));
    const deliveryLog = log.child({ deliveryId, event, forge: "gitlab" });
    try {
      const run = normaliseGitlabPipeline(event, body, deliveryId);
      if (run) {
        await queues.events.add("run", run, { jobId: deliveryJobId("gitlab", deliveryId) });
        deliveryLog.info({ repo: run.repo, runId: run.runId, state: run.state }, "event enqueued");
      }
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      deliveryLog.warn({ reason: error.message }, "delivery ignored: payload rejected");
    }
    return reply(res, 200, { ok: true });
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Past the limit the rest is read and dropped, never buffered, so the 413 still reaches GitLab.
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return true;
}
