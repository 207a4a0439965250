import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import express from "express";
import type { Logger } from "pino";
import type { DependencyMap } from "../map/graph.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore } from "../report/check-store.js";
import type { CommitViews } from "../report/commit-views.js";
import { admitted } from "./admin-auth.js";
import { href, html } from "./dashboard/html.js";
import { layout } from "./dashboard/layout.js";
import { readBody } from "./http.js";
import { RerunRequest, requestRerun } from "./reruns-api.js";

export const QUEUES_PATH = "/admin/queues";

/** The request comes from the relay's own pages: Sec-Fetch-Site says so, or else Origin names this host. */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined) return site === "same-origin";
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser's cross-site form (those carry Origin or Sec-Fetch-Site)
  try {
    return new URL(String(origin)).host === req.headers.host;
  } catch {
    return false;
  }
}
const RERUN_FORM_PATH = "/admin/reruns";

/**
 * The operators' views, behind the admin token (Bearer, or the password of a browser's Basic
 * prompt): Bull Board at /admin/queues, and the dashboard's Re-run buttons (POST /admin/reruns).
 */
export function adminViews(o: {
  queues: Queues; map: () => DependencyMap; log: Logger; adminToken: string | undefined; state: { checks: CheckStore; views: CommitViews };
}) {
  const board = new ExpressAdapter();
  board.setBasePath(QUEUES_PATH);
  createBullBoard({
    queues: [o.queues.events, o.queues.trigger, o.queues.report, o.queues.sinks].map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: "OpenCI Relay" } },
  });
  const app = express();
  app.disable("x-powered-by");
  app.use(QUEUES_PATH, board.getRouter());

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0]!;
    if (path !== QUEUES_PATH && !path.startsWith(`${QUEUES_PATH}/`) && path !== RERUN_FORM_PATH) return false;
    // Never framed (clickjacking of the board or the buttons).
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("content-security-policy", "frame-ancestors 'none'");
    if (!admitted(req, res, o.adminToken, "the admin views")) return true;
    if (path !== RERUN_FORM_PATH) {
      app(req as express.Request, res as express.Response);
      return true;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return true;
    }
    // A browser sends the cached admin password with any form post, a forged cross-site one too.
    if (!sameOrigin(req)) {
      req.resume();
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8" }).end("Re-runs from the dashboard must come from the dashboard itself (cross-site request refused).");
      return true;
    }
    const body = new URLSearchParams((await readBody(req, 16 * 1024)) ?? "");
    const parsed = RerunRequest.safeParse({
      upstream: body.get("upstream") ?? undefined, sha: body.get("sha") ?? undefined, ...(body.get("downstream") ? { downstream: body.get("downstream") } : {}),
    });
    const answer = parsed.success
      ? await requestRerun(o.queues, o.map, o.log, o.state, parsed.data)
      : { status: 400, body: { error: parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ") } };
    const ok = answer.status === 202;
    const back = parsed.success ? html`<p><a href="${href("projects", parsed.data.upstream)}">Back to ${parsed.data.upstream}</a> · <a href="/">the releases</a></p>` : html`<p><a href="/">Back</a></p>`;
    const page = layout({
      title: ok ? "Re-run queued" : "Re-run refused",
      main: html`<h1>${ok ? "Re-run queued" : "Re-run refused"}</h1><p role="status">${ok ? `${parsed.success ? parsed.data.downstream ?? "every failed downstream" : ""} will run again; its result shows on the dashboard as it arrives.` : String(answer.body.error)}</p>${back}`,
    });
    res.writeHead(answer.status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page.text);
    return true;
  };
}
