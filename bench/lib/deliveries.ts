import { randomUUID } from "node:crypto";
import { githubDeliveryHeaders } from "../../test/helpers/deliveries.js";
import { githubFixture } from "../../test/helpers/fixtures.js";

export const WEBHOOK_SECRET = "bench-secret";

export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

/**
 * Real `push` deliveries of a new tag (@octokit/webhooks-examples' push.tag, ref changed), each
 * with its own delivery id and signed as GitHub signs them (HMAC-SHA256 of the exact body).
 * The body is serialised once; a delivery only splices in its tag.
 */
export function tagDeliveries(secret = WEBHOOK_SECRET) {
  const payload = githubFixture("push.tag");
  payload.ref = "refs/tags/\u0000TAG\u0000";
  const [before, after] = JSON.stringify(payload).split("\\u0000TAG\\u0000") as [string, string];
  return (tag: string, id: string = randomUUID()): SignedDelivery => {
    const body = `${before}${tag}${after}`;
    return { body, headers: githubDeliveryHeaders("push", body, { id, secret }) };
  };
}

/** POSTs one delivery; resolves with its status once answered. */
export async function post(url: string, d: SignedDelivery): Promise<number> {
  const res = await fetch(`${url}/api/github/webhooks`, { method: "POST", headers: d.headers, body: d.body });
  await res.arrayBuffer();
  return res.status;
}
