import type { IncomingMessage, ServerResponse } from "node:http";
import { reply, sameSecret } from "./http.js";

/**
 * The admin token from `Authorization: Bearer <token>` (tools), or the password of HTTP Basic
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
