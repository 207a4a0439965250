import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { deliveries } from "../metrics.js";
import { GITLAB_WEBHOOK_PATH } from "./gitlab-webhooks.js";

const GITHUB_WEBHOOK_PATH = "/api/github/webhooks";
const GITHUB_EVENT_NAMES = new Set(["create", "push", "release", "workflow_run", "check_suite", "check_run", "installation", "installation_repositories", "ping"]);
const GITLAB_EVENT_NAMES = new Set(["Tag Push Hook", "Push Hook", "Pipeline Hook", "Job Hook", "Merge Request Hook", "Note Hook", "Release Hook"]);
/** GitHub's own cap on a webhook payload. */
export const MAX_DELIVERY_BYTES = 25 * 1024 * 1024;

/**
 * In front of every request listener (Probot's included): webhook deliveries are answered 413
 * when they announce more than 25 MB (nothing read), 503 when Redis cannot take them now (no
 * offline queue: the forge records a failed delivery, to be redelivered), and a failure to
 * enqueue is a 503, never a 2xx. Every delivery is counted by forge, event and outcome.
 */
export function gateIntake(server: Server, redis: Redis, log: Logger): void {
  const listeners = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    const forge = path === GITHUB_WEBHOOK_PATH ? "github" : path === GITLAB_WEBHOOK_PATH ? "gitlab" : undefined;
    if (forge && req.method === "POST") {
      const named = String(req.headers[forge === "github" ? "x-github-event" : "x-gitlab-event"] ?? "");
      // Label values only from a fixed set: the header is the sender's, before any signature check.
      const event = (forge === "github" ? GITHUB_EVENT_NAMES : GITLAB_EVENT_NAMES).has(named) ? named : "other";
      res.once("finish", () => {
        const s = res.statusCode;
        deliveries.inc({ forge, event, outcome: s < 300 ? "accepted" : s < 500 ? "rejected" : "failed" });
      });
      if (Number(req.headers["content-length"] ?? 0) > MAX_DELIVERY_BYTES) return refuse(req, res, 413, `deliveries are at most ${MAX_DELIVERY_BYTES} bytes`);
      if (redis.status !== "ready") {
        log.warn({ forge, event, redis: redis.status }, "delivery refused with 503: Redis is not available, the forge keeps it as failed");
        return refuse(req, res, 503, "Redis is not available: the delivery was not accepted (redeliver it later)", { "retry-after": "30" });
      }
      // Whatever fails after this point failed to enqueue: the delivery was not taken, say so with a 503.
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
      res.writeHead = ((status: number, ...rest: unknown[]) => writeHead(status === 500 ? 503 : status, ...rest)) as typeof res.writeHead;
    }
    for (const l of listeners) l.call(server, req, res);
  });
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  req.resume();
  res.writeHead(status, { "content-type": "application/json", connection: "close", ...headers }).end(JSON.stringify({ error }));
}
