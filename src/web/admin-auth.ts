import type { IncomingMessage, ServerResponse } from "node:http";
import { reply, sameSecret } from "./http.js";

/**
 * The acting routes need `Authorization: Bearer $OPENCI_ADMIN_TOKEN`: 403 while the relay has no
 * token, 401 without the right one. Returns true when the request may go on (else it was answered).
 */
export function admitted(req: IncomingMessage, res: ServerResponse, adminToken: string | undefined, what: string): boolean {
  if (adminToken === undefined) {
    req.resume();
    reply(res, 403, { error: `${what} through the API are off: set OPENCI_ADMIN_TOKEN on the relay and send it as 'Authorization: Bearer <token>'` });
    return false;
  }
  const given = /^Bearer (.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1] ?? "";
  if (!sameSecret(given, adminToken)) {
    req.resume();
    reply(res, 401, { error: "send OPENCI_ADMIN_TOKEN as 'Authorization: Bearer <token>'" });
    return false;
  }
  return true;
}
