import { describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { githubDeliveryHeaders } from "../helpers/deliveries.js";
import { jobCount } from "../helpers/queue-counts.js";
import { WEBHOOK_SECRET } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo } from "../helpers/upstream.js";
import { githubFixture } from "../helpers/fixtures.js";
import { GITHUB_TO_GITHUB_MAP as MAP } from "../helpers/maps.js";

/**
 * The web role's GitHub deliveries (src/web/github-intake.ts): answered as Probot's middleware
 * answers them, queued without Probot's per-event work, and logged once each.
 */
const repos = () => ({
  [UPSTREAM]: { installationId: 1, tags: { v1: { type: "commit" as const, sha: COMMIT } } },
  "acme/app": acmeAppRepo(),
});
const startHarness = useHarness();

const level = (line: string) => (JSON.parse(line) as { level: number }).level;
const msg = (line: string) => (JSON.parse(line) as { msg: string }).msg;

async function post(url: string, event: string, body: string, headers: (h: Record<string, string>) => Record<string, string> = (h) => h) {
  const id = randomUUID();
  const res = await fetch(`${url}/api/github/webhooks`, { method: "POST", headers: headers(githubDeliveryHeaders(event, body, { id, secret: WEBHOOK_SECRET })), body });
  return { id, status: res.status, text: await res.text() };
}

describe("GitHub deliveries into the web role", () => {
  it("a signed tag: 200 ok once queued, one event job, and one log line for it (no HTTP access line beside it)", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const payload = githubFixture("push.tag");
    payload.ref = "refs/tags/v1";
    payload.after = COMMIT;

    const sent = await post(h.url, "push", JSON.stringify(payload));
    await h.idle();

    expect([sent.status, sent.text]).toEqual([200, "ok\n"]);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    const aboutIt = h.logs.filter((l) => l.includes(sent.id) && level(l) >= 30 && msg(l) === "event enqueued");
    expect(aboutIt).toHaveLength(1);
    expect(h.logs.filter((l) => /POST \/api\/github\/webhooks/.test(l))).toEqual([]);
  });

  it("answers as Probot's middleware does: 415 without JSON, 400 without a signature, with a wrong one, or with a body that is not JSON; nothing queued", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const body = JSON.stringify({ ref: "v1", ref_type: "tag", repository: { full_name: UPSTREAM } });

    const form = await post(h.url, "create", body, (x) => ({ ...x, "content-type": "application/x-www-form-urlencoded" }));
    const unsigned = await post(h.url, "create", body, ({ "x-hub-signature-256": _, ...x }) => x);
    const forged = await post(h.url, "create", body, (x) => ({ ...x, "x-hub-signature-256": `sha256=${"0".repeat(64)}` }));
    const notJson = await post(h.url, "create", "{not json");
    await h.idle();

    expect([form.status, JSON.parse(form.text).error]).toEqual([415, `Unsupported "Content-Type" header value. Must be "application/json"`]);
    expect([unsigned.status, JSON.parse(unsigned.text).error]).toEqual([400, "Required headers missing: x-hub-signature-256"]);
    expect([forged.status, JSON.parse(forged.text).error]).toEqual([400, "Error: [@octokit/webhooks] signature does not match event payload and secret"]);
    expect([notJson.status, JSON.parse(notJson.text).error]).toEqual([400, "SyntaxError: Invalid JSON"]);
    expect(await jobCount(h.redisUrl, "events", ["waiting", "active", "completed", "delayed", "failed"])).toBe(0);
    // the forged one said once, with what to check
    const said = h.logs.filter((l) => l.includes(forged.id));
    expect(said.map(msg)).toEqual(["delivery refused with 400: its signature does not match the payload and the webhook secret (WEBHOOK_SECRET)"]);
  });

  it("an event the relay does not listen to, and a release that is not published: 200, nothing queued, nothing said above debug", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });

    const star = await post(h.url, "star", JSON.stringify({ action: "created", repository: { full_name: UPSTREAM } }));
    const draft = await post(h.url, "release", JSON.stringify({ action: "created", release: { tag_name: "v1" }, repository: { full_name: UPSTREAM } }));
    await h.idle();

    expect([star.status, draft.status]).toEqual([200, 200]);
    expect(await jobCount(h.redisUrl, "events", ["waiting", "active", "completed", "delayed", "failed"])).toBe(0);
    expect(h.logs.filter((l) => (l.includes(star.id) || l.includes(draft.id)) && level(l) >= 30)).toEqual([]);
  });
});
