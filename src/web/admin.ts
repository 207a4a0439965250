import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { DependencyMap } from "../map/graph.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore } from "../report/check-store.js";
import type { CommitViews } from "../report/commit-views.js";
import { admitted, givenToken } from "./admin-auth.js";
import { href, html } from "./dashboard/html.js";
import { layout } from "./dashboard/layout.js";
import { readBody, sameSecret } from "./http.js";
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
 * Bull Board's page links Google Fonts; the relay serves everything it shows itself, so the page
 * works offline and tells no third party who opens it. Its own CSS falls back to the system's sans-serif.
 */
export function withoutExternalFonts(page: string): string {
  return page.replace(/<link\b[^>]*\bhref="https:\/\/fonts\.(googleapis|gstatic)\.com[^>]*>\s*/g, "");
}

type Board = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Bull Board and express (admin-board.ts), imported on the first admitted request for the board:
 * a process whose board nobody opens never loads them. A failed import is an error naming the
 * library, thrown to that request (a 500, logged) and tried again by the next one.
 */
export function loadQueuesBoard(queues: Queues): () => Promise<Board> {
  let loading: Promise<Board> | undefined;
  const load = async (): Promise<Board> => {
    let module: typeof import("./admin-board.js");
    try {
      module = await import("./admin-board.js");
    } catch (error) {
      throw new Error(`the admin views cannot show the queues' board: its libraries (@bull-board, express) failed to import: ${(error as Error)?.message ?? String(error)}; reinstall the relay's dependencies (npm ci)`, { cause: error });
    }
    return module.queuesBoard(queues);
  };
  return () => (loading ??= load().catch((error: unknown) => {
    loading = undefined;
    throw error;
  }));
}

/** A browser asking for a page (Accept names HTML and not JSON); API clients and Bull Board's own calls get JSON. */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? "");
  return /\btext\/html\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

/** The link on the sign-in page: the same view, asking the browser for the password. */
export const SIGN_IN_QUERY = "sign-in";

/**
 * The page a browser gets instead of raw JSON when the admin views refuse it: how to sign in (401),
 * or how to turn them on (403). A browser's password prompt does not say which password it wants, so
 * a first visit gets this page without a Basic challenge (no prompt yet); its Sign in link
 * (`?sign-in`), or a wrong password, gets the challenge and the prompt.
 */
export function adminSignInPage(state: "no-token" | "signed-out" | "wrong-token"): { status: number; text: string } {
  const body = state === "no-token"
    ? html`<h1>The admin views are off</h1>
<p>This relay runs without <code>OPENCI_ADMIN_TOKEN</code>, so the queues' board, re-runs and dead letters are closed to everyone.
To open them, set <code>OPENCI_ADMIN_TOKEN</code> (at least 16 characters, e.g. <code>openssl rand -hex 32</code>) in the relay's environment or <code>.env</code> and restart it.</p>
<p><a href="/">Back to the releases</a></p>`
    : html`<h1>Sign in to the admin views</h1>
${state === "wrong-token" ? html`<p role="alert">That password is not this relay's admin token.</p>` : ""}
<p>The queues' board, re-runs and dead letters need the relay's admin token. Your browser asks for a user name and a password:</p>
<ul>
<li><strong>User name</strong>: anything.</li>
<li><strong>Password</strong>: the relay's <code>OPENCI_ADMIN_TOKEN</code>, from its environment or <code>.env</code>.
Running <code>npm run demo</code>? It printed the token when it started, on its <em>Queues</em> line.</li>
</ul>
<p><a href="${QUEUES_PATH}?${SIGN_IN_QUERY}">Sign in</a> · <a href="/">Back to the releases</a></p>
<p class="small muted">Tools send the token as <code>Authorization: Bearer &lt;token&gt;</code> and get JSON. The browser keeps the password until it is closed.</p>`;
  return { status: state === "no-token" ? 403 : 401, text: layout({ title: "Admin sign-in", main: body }).text };
}

/**
 * The operators' views, behind the admin token (Bearer, or the password of a browser's Basic
 * prompt): Bull Board at /admin/queues, and the dashboard's Re-run buttons (POST /admin/reruns).
 */
export function adminViews(o: {
  queues: Queues; map: () => DependencyMap; log: Logger; adminToken: string | undefined; state: { checks: CheckStore; views: CommitViews };
}) {
  const board = loadQueuesBoard(o.queues);

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0]!;
    if (path !== QUEUES_PATH && !path.startsWith(`${QUEUES_PATH}/`) && path !== RERUN_FORM_PATH) return false;
    // Never framed (clickjacking of the board or the buttons).
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("content-security-policy", "frame-ancestors 'none'");
    if (wantsHtml(req) && (o.adminToken === undefined || !sameSecret(givenToken(req), o.adminToken))) {
      req.resume();
      const state = o.adminToken === undefined ? "no-token" : req.headers.authorization === undefined ? "signed-out" : "wrong-token";
      const page = adminSignInPage(state);
      const prompt = state === "wrong-token" || new URLSearchParams((req.url ?? "").split("?")[1] ?? "").has(SIGN_IN_QUERY);
      // Bearer (the API's scheme) names what is wanted without making the browser prompt before the page is read.
      if (page.status === 401) res.setHeader("www-authenticate", prompt ? 'Basic realm="OpenCI Relay admin", charset="UTF-8"' : 'Bearer realm="OpenCI Relay admin"');
      res.writeHead(page.status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page.text);
      return true;
    }
    if (!admitted(req, res, o.adminToken, "the admin views")) return true;
    if (path !== RERUN_FORM_PATH) {
      (await board())(req, res);
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
