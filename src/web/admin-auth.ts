import type { IncomingMessage, ServerResponse } from "node:http";
import type { Reach } from "../history/history-reader.js";
import { reply, sameSecret } from "./http.js";

/**
 * The token from `Authorization: Bearer <token>` (tools), or the password of HTTP Basic
 * authentication (browsers, which then ask for it; any user name).
 */
export function givenToken(req: IncomingMessage): string {
  const header = String(req.headers.authorization ?? "");
  const bearer = /^Bearer (.+)$/i.exec(header)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic (.+)$/i.exec(header)?.[1];
  if (basic === undefined) return "";
  const decoded = Buffer.from(basic, "base64").toString("utf8");
  return decoded.slice(decoded.indexOf(":") + 1);
}

/**
 * What acts (re-runs, subscribers' dead letters, the queues' board) needs the admin token: 403
 * while the relay has none, 401 without the right one. Returns true when the request may go on
 * (else it was answered).
 */
export function admitted(req: IncomingMessage, res: ServerResponse, adminToken: string | undefined, what: string): boolean {
  if (adminToken === undefined) {
    req.resume();
    reply(res, 403, { error: `${what} through the API are off: set OPENCI_ADMIN_TOKEN on the relay and send it as 'Authorization: Bearer <token>'` });
    return false;
  }
  if (!sameSecret(givenToken(req), adminToken)) {
    req.resume();
    res.setHeader("www-authenticate", 'Basic realm="OpenCI Relay admin", charset="UTF-8"');
    reply(res, 401, { error: "send OPENCI_ADMIN_TOKEN as 'Authorization: Bearer <token>' (or as the password, in a browser)" });
    return false;
  }
  return true;
}

/**
 * What acts through `/api/*` (POST /api/v1/reruns, /api/v1/sinks/redrive) takes the admin token
 * only as `Authorization: Bearer` and the body only as JSON. A browser resends a cached Basic
 * password with any request to the relay, a forged cross-site form or fetch too, and such a form
 * can only say text/plain, a form or multipart (JSON would need a CORS preflight, which the relay
 * never grants). Returns true when the request may go on (else it was answered).
 */
export function admittedToAct(req: IncomingMessage, res: ServerResponse, adminToken: string | undefined, what: string): boolean {
  if (adminToken !== undefined && !/^Bearer /i.test(String(req.headers.authorization ?? ""))) {
    req.resume();
    res.setHeader("www-authenticate", 'Bearer realm="OpenCI Relay admin"');
    reply(res, 401, { error: "this route takes OPENCI_ADMIN_TOKEN only as 'Authorization: Bearer <token>' (never Basic: browsers resend a Basic password on forged cross-site requests); use openci-relay or send the header yourself" });
    return false;
  }
  if (!admitted(req, res, adminToken, what)) return false;
  const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    req.resume();
    reply(res, 415, { error: `send the body as JSON with 'Content-Type: application/json'${type ? ` (not ${type})` : " (none was given)"}` });
    return false;
  }
  return true;
}

/** The tokens that open the private history: the read token, and the admin token (which opens all). */
export interface ReadTokens {
  readToken: string | undefined;
  adminToken: string | undefined;
}

/** The realm browsers sign in to (GET /login), so the dashboard's later requests carry the token. */
export const READ_REALM = 'Basic realm="OpenCI Relay", charset="UTF-8"';

/**
 * How much of the history a request may read: without credentials the public history; with the
 * read or the admin token all of it; with any other credentials nothing (undefined: answer 401),
 * so a mistyped token is never silently served the public history.
 */
export function readReach(req: IncomingMessage, tokens: ReadTokens): Reach | undefined {
  if (req.headers.authorization === undefined) return "public";
  const given = givenToken(req);
  // Both compared, whichever matches: the time taken says nothing about which token it was.
  const read = tokens.readToken !== undefined && sameSecret(given, tokens.readToken);
  const admin = tokens.adminToken !== undefined && sameSecret(given, tokens.adminToken);
  return read || admin ? "all" : undefined;
}

/** The 401 for credentials that are not a read token (JSON, with a challenge browsers answer). */
export function refuseReader(req: IncomingMessage, res: ServerResponse, tokens: ReadTokens): true {
  req.resume();
  res.setHeader("www-authenticate", READ_REALM);
  return reply(res, 401, { error: readTokenHint(tokens) });
}

export function readTokenHint(tokens: ReadTokens): string {
  return tokens.readToken === undefined && tokens.adminToken === undefined
    ? "this relay has no OPENCI_READ_TOKEN (nor OPENCI_ADMIN_TOKEN): send no Authorization header to read the public history"
    : "the token is not the relay's OPENCI_READ_TOKEN or OPENCI_ADMIN_TOKEN: send one as 'Authorization: Bearer <token>', or no Authorization header for the public history";
}
