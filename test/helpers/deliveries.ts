import { createHmac, randomUUID } from "node:crypto";

export interface SendOptions {
  id?: string;
  secret: string;
  /** Overrides the computed X-Hub-Signature-256 header (null: leave it out). */
  signature?: string | null;
}

/** Signs a payload exactly as GitHub does (HMAC-SHA256 of the raw body) and POSTs it to the relay. */
export async function sendGithubDelivery(relayUrl: string, event: string, payload: unknown, o: SendOptions) {
  const body = JSON.stringify(payload);
  const id = o.id ?? randomUUID();
  const signature = o.signature === undefined ? `sha256=${createHmac("sha256", o.secret).update(body).digest("hex")}` : o.signature;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": id,
    "x-github-hook-id": "1",
  };
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  const res = await fetch(`${relayUrl}/api/github/webhooks`, { method: "POST", headers, body });
  return { status: res.status, id, text: await res.text() };
}
