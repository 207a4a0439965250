import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";

/** A fresh copy of a documented GitLab webhook example from fixtures/gitlab/ ({ headers, body }). */
export function gitlabFixture(name: "pipeline" | "tag_push" | "job" | "push"): { headers: Record<string, string>; body: any } {
  return JSON.parse(readFileSync(new URL(`../../fixtures/gitlab/${name}.json`, import.meta.url), "utf8"));
}

/** POSTs a GitLab webhook to the relay with the secret token as GitLab sends it (plain, no HMAC). */
export async function sendGitlabDelivery(relayUrl: string, fixture: { headers: Record<string, string>; body: unknown }, o: { token?: string | null; idempotencyKey?: string } = {}) {
  const headers: Record<string, string> = {
    "content-type": "application/json", "user-agent": "GitLab/18.2.0", ...fixture.headers,
    "idempotency-key": o.idempotencyKey ?? randomUUID(), "x-gitlab-event-uuid": randomUUID(),
  };
  if (o.token !== null && o.token !== undefined) headers["x-gitlab-token"] = o.token;
  const res = await fetch(`${relayUrl}/api/gitlab/webhooks`, { method: "POST", headers, body: JSON.stringify(fixture.body) });
  return { status: res.status, key: headers["idempotency-key"]! };
}
