import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Delivery } from "../events/github.js";
import { readBody, reply } from "./http.js";
import { MAX_DELIVERY_BYTES } from "./intake-gate.js";
import { listensTo } from "./github-webhooks.js";

const JSON_TYPE = /^\s*application\/json\s*(?:;|$)/u;
const REQUIRED = ["x-github-event", "x-hub-signature-256", "x-github-delivery"] as const;

export interface GithubIntakeOptions {
  /** Probot's webhooks' check of X-Hub-Signature-256 against the webhook secret (`probot.webhooks.verify`) */
  verify(payload: string, signature: string): Promise<boolean>;
  /** normalise and enqueue; throws when the delivery could not be queued */
  receive(delivery: Delivery): Promise<void>;
  log: Logger;
}

/**
 * GitHub's webhook deliveries, answered as Probot's middleware (@octokit/webhooks) answers them —
 * 415 without a JSON body, 400 without its headers, a bad signature or invalid JSON, 200 "ok" once
 * queued — without what Probot does per event and the web role never uses: an authenticated Octokit,
 * a child logger and a Context per delivery, and an HTTP log line beside the relay's own. The payload
 * is parsed once; one line is logged per delivery (enqueued, ignored or refused). Redis trouble and
 * the 25 MB cut are answered in front of this (intake-gate.ts); a failure to enqueue is a 503.
 */
export function githubIntake(o: GithubIntakeOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (!JSON_TYPE.test(String(req.headers["content-type"] ?? ""))) {
      req.resume();
      res.setHeader("accept", "application/json");
      return void reply(res, 415, { error: `Unsupported "Content-Type" header value. Must be "application/json"` });
    }
    const missing = REQUIRED.filter((h) => req.headers[h] === undefined);
    if (missing.length > 0) {
      req.resume();
      return void reply(res, 400, { error: `Required headers missing: ${missing.join(", ")}` });
    }
    const name = String(req.headers["x-github-event"]);
    const id = String(req.headers["x-github-delivery"]);
    let body: string | undefined;
    try {
      body = await readBody(req, MAX_DELIVERY_BYTES);
    } catch (err) {
      if (res.headersSent) return; // over the cap while it was sent: intake-gate.ts answered 413 and said so
      throw err;
    }
    if (res.headersSent) return;
    if (body === undefined) return void reply(res, 413, { error: `deliveries are at most ${MAX_DELIVERY_BYTES} bytes` });
    if (!(await o.verify(body, String(req.headers["x-hub-signature-256"])).catch(() => false))) {
      o.log.warn({ deliveryId: id, event: name }, "delivery refused with 400: its signature does not match the payload and the webhook secret (WEBHOOK_SECRET)");
      return void reply(res, 400, { error: "Error: [@octokit/webhooks] signature does not match event payload and secret" });
    }
    let payload: { action?: unknown };
    try {
      payload = JSON.parse(body) as { action?: unknown };
    } catch {
      o.log.warn({ deliveryId: id, event: name }, "delivery refused with 400: its body is not JSON");
      return void reply(res, 400, { error: "SyntaxError: Invalid JSON" });
    }
    if (!listensTo(name, payload)) o.log.debug({ deliveryId: id, event: name }, "delivery of an event the relay does not listen to: answered 200");
    else {
      try {
        await o.receive({ id, name, payload });
      } catch (err) {
        o.log.error({ err, deliveryId: id, event: name }, "delivery refused with 503: it could not be queued, the forge keeps it as failed");
        res.setHeader("retry-after", "30");
        return void reply(res, 503, { error: "the delivery could not be queued: redeliver it later" });
      }
    }
    res.writeHead(200, { "content-type": "text/plain", accept: "application/json" }).end("ok\n");
  };
}
