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
 * enqueue is a 503, never a 2xx. Every delivery is counted by forge, event and outcome. With
 * `github`, GitHub's deliveries go to it instead of the server's listeners (Probot's).
 */
export function gateIntake(server: Server, redis: Redis, log: Logger, github?: (req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
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
      capBody(req, res, MAX_DELIVERY_BYTES, () => {
        log.warn({ forge, event }, `delivery refused with 413: its body (sent without a length) passed ${MAX_DELIVERY_BYTES} bytes`);
        refuse(req, res, 413, `deliveries are at most ${MAX_DELIVERY_BYTES} bytes`);
      });
      if (redis.status !== "ready") {
        log.warn({ forge, event, redis: redis.status }, "delivery refused with 503: Redis is not available, the forge keeps it as failed");
        return refuse(req, res, 503, "Redis is not available: the delivery was not accepted (redeliver it later)", { "retry-after": "30" });
      }
      // Whatever fails after this point failed to enqueue: the delivery was not taken, say so with a
      // 503. So is Probot's "202 still processing" when enqueueing outlasts its timeout: a 2xx means
      // durably queued, and a redelivery of a delivery that did get queued is deduplicated.
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
      res.writeHead = ((status: number, ...rest: unknown[]) => writeHead(status === 500 || status === 202 ? 503 : status, ...rest)) as typeof res.writeHead;
      // GitHub's deliveries take the lean path when the web role gives one (github-intake.ts), not Probot's listener.
      if (forge === "github" && github) {
        github(req, res).catch((err: unknown) => {
          log.error({ err, forge, event }, "delivery failed before it was queued");
          if (!res.headersSent) refuse(req, res, 503, "the delivery could not be queued: redeliver it later", { "retry-after": "30" });
        });
        return;
      }
    }
    for (const l of listeners) l.call(server, req, res);
  });
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  req.resume();
  res.writeHead(status, { "content-type": "application/json", connection: "close", ...headers }).end(JSON.stringify({ error }));
}

/**
 * A body sent without a Content-Length (chunked) is counted as it arrives: past `max` bytes the
 * delivery is answered 413 at once and the connection closed, so no more than `max` is ever held.
 * The listener already reading it (Probot's) gets an error and its own answer goes nowhere.
 */
function capBody(req: IncomingMessage, res: ServerResponse, max: number, onOver: () => void): void {
  const emit = req.emit.bind(req) as (event: string | symbol, ...args: unknown[]) => boolean;
  let total = 0;
  let over = false;
  req.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (over) return event === "close" ? emit(event, ...args) : false;
    if (event === "data") {
      total += (args[0] as Buffer).length;
      if (total > max) {
        over = true;
        res.once("finish", () => req.socket.destroy());
        onOver();
        // the reader's own error answer, after ours: dropped rather than thrown
        res.writeHead = (() => res) as unknown as typeof res.writeHead;
        res.end = (() => res) as unknown as typeof res.end;
        if (req.listenerCount("error") > 0) emit("error", new Error(`request body over ${max} bytes`));
        return false;
      }
    }
    return emit(event, ...args);
  }) as typeof req.emit;
}
