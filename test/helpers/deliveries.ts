import { createHmac, randomUUID } from "node:crypto";

export interface SendOptions {
  id?: string;
  secret: string;
  /** Overrides the computed X-Hub-Signature-256 header (null: leave it out). */
  signature?: string | null;
}

/** The headers GitHub sends with a delivery of `body`, signed as GitHub signs it (HMAC-SHA256 of the raw body). */
export function githubDeliveryHeaders(event: string, body: string, o: SendOptions & { id: string }): Record<string, string> {
  const signature = o.signature === undefined ? `sha256=${createHmac("sha256", o.secret).update(body).digest("hex")}` : o.signature;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": o.id,
    "x-github-hook-id": "1",
  };
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  return headers;
}

/** Signs a payload exactly as GitHub does and POSTs it to the relay. */
export async function sendGithubDelivery(relayUrl: string, event: string, payload: unknown, o: SendOptions) {
  const body = JSON.stringify(payload);
  const id = o.id ?? randomUUID();
  const headers = githubDeliveryHeaders(event, body, { ...o, id });
  const res = await fetch(`${relayUrl}/api/github/webhooks`, { method: "POST", headers, body });
  return { status: res.status, id, text: await res.text() };
}
