import { describe, expect, it } from "@jest/globals";
import { request } from "node:http";
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Harness } from "../helpers/relay-harness.js";
import { WEBHOOK_SECRET, GITLAB_TOKEN } from "../helpers/relay-harness.js";
import { jobCount } from "../helpers/queue-counts.js";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { appPrivateKey } from "../helpers/keys.js";

const TAGS = 24;
/**
 * A time, not a wait for the relay: the deliveries come as a stream spread over the kill and the
 * restart (some before Redis dies, some while it is down, some after), not as one burst.
 */
const DELIVERY_GAP_MS = 40;
const MAP = `
projects:
  - { id: hello, github: ${UPSTREAM} }
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello, tags: "v*" }]
`;
const repos = () => ({
  [UPSTREAM]: { installationId: 1, tags: Object.fromEntries(Array.from({ length: TAGS }, (_, i) => [`v${i}`, { type: "commit" as const, sha: COMMIT }])) },
  "acme/app": acmeAppRepo(),
});
const startHarness = useHarness();
const pushTag = (h: Harness, tag: string, id?: string) =>
  h.send("push.tag", (p) => { p.ref = `refs/tags/${tag}`; p.after = COMMIT; }, id ? { id } : {}).catch(() => ({ status: 0, id: id ?? "", text: "" }));
/** How many times each tag was dispatched to acme/app. */
const dispatchesByTag = (h: Harness) => {
  const counts: Record<string, number> = {};
  for (const c of h.github.calls("actions/create-workflow-dispatch")) counts[c.body.inputs.openci_tag] = (counts[c.body.inputs.openci_tag] ?? 0) + 1;
  return counts;
};

describe("fault: Redis killed (SIGKILL) and restarted under a stream of deliveries", () => {
  it("invariant: every delivery is answered 2xx only once durably queued, else 503; each accepted or redelivered tag triggers its downstream exactly once", async () => {
    // A check lock taken just before the SIGKILL is in the AOF and outlives its holder, whose release
    // failed: it lasts a job's lock (src/report/check-lock.ts), 3 s here, then that check is written.
    const h = await startHarness({ map: MAP, repos: repos(), durableRedis: true, env: { OPENCI_JOB_LOCK_MS: "3000" } });
    const answers: { tag: string; id: string; status: number }[] = [];

    for (let i = 0; i < TAGS; i++) {
      if (i === 8) h.killRedis();
      if (i === 16) await h.restartRedis();
      const sent = await pushTag(h, `v${i}`);
      answers.push({ tag: `v${i}`, id: sent.id, status: sent.status });
      await sleep(DELIVERY_GAP_MS);
    }
    // GitHub keeps refused deliveries as failed; redelivering them (as the maintainer, or the reconciler, would) adds them.
    const refused = answers.filter((a) => a.status !== 200);
    for (const a of refused) await pushTag(h, a.tag, a.id);
    await waitFor("every tag dispatched", () => Object.keys(dispatchesByTag(h)).length === TAGS, 60_000);
    await h.idle();

    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200, 503]));
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(Object.entries(dispatchesByTag(h)).filter(([, n]) => n !== 1)).toEqual([]);
    expect(h.logs.some((l) => l.includes("delivery refused with 503: Redis is not available"))).toBe(true);
  }, 90_000);
});

describe("fault: duplicate deliveries", () => {
  it("invariant: ten copies of one tag (same and new delivery ids, as create, push and release) trigger the downstream once", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });

    await Promise.all([
      ...Array.from({ length: 10 }, () => pushTag(h, "v1", "same-delivery")),
      ...Array.from({ length: 10 }, () => pushTag(h, "v1")),
      ...Array.from({ length: 10 }, () => h.send("create.tag", (p) => { p.ref = "v1"; })),
      ...Array.from({ length: 10 }, () => h.send("release.published", (p) => { p.release.tag_name = "v1"; })),
    ]);
    await waitFor("the dispatch", () => dispatchesByTag(h).v1 === 1);
    await h.idle();

    expect(dispatchesByTag(h)).toEqual({ v1: 1 });
  });
});

describe("fault: the forge fails, then limits", () => {
  it("invariant: 500s, a 403 with retry-after and a 429 are retried, never sooner than asked, and the downstream is triggered exactly once", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    h.github.fail("actions/create-workflow-dispatch", 500, { times: 2 });
    h.github.fail("actions/create-workflow-dispatch", 403, { headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit." } });
    h.github.fail("actions/create-workflow-dispatch", 429, { headers: { "retry-after": "1" }, body: { message: "Too Many Requests" } });

    const res = await pushTag(h, "v3");
    await waitFor("the dispatch through", () => h.github.calls("actions/create-workflow-dispatch").length === 5, 60_000);
    await h.idle();
    const calls = h.github.calls("actions/create-workflow-dispatch");

    expect(res.status).toBe(200);
    expect(calls).toHaveLength(5);
    expect(calls[3]!.at - calls[2]!.at).toBeGreaterThanOrEqual(1000);
    expect(calls[4]!.at - calls[3]!.at).toBeGreaterThanOrEqual(1000);
    expect(h.github.dispatchedRuns).toHaveLength(1);
  }, 90_000);
});

describe("hostile input", () => {
  /** Posts raw bytes to the GitHub webhook path, signed (or not) as GitHub would sign them. */
  const post = (h: Harness, body: Buffer | string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const req = request(`${h.url}/api/github/webhooks`, { method: "POST", headers: { "content-type": "application/json", "x-github-delivery": `d-${Math.random()}`, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", (e) => ((e as NodeJS.ErrnoException).code === "EPIPE" || (e as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve(-1) : reject(e)));
    req.end(body);
  });
  const signed = (body: string) => `sha256=${createHmac("sha256", WEBHOOK_SECRET).update(body).digest("hex")}`;

  it("invariant: a body streamed without a length is cut at 25 MB with a 413, never read whole, and the relay goes on", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const MB = 1024 * 1024;
    let sent = 0;
    const chunk = Buffer.alloc(MB, 0x20);
    const status = await new Promise<number>((resolve) => {
      const req = request(`${h.url}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "create", "x-github-delivery": "chunked-1", "x-hub-signature-256": signed("x"), "transfer-encoding": "chunked" },
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve(-1));
      // up to 200 MB, written only as fast as the relay reads it
      const pump = () => {
        while (sent < 200 * MB) {
          sent += MB;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    const after = await pushTag(h, "v5");

    expect(status === 413 || status === -1).toBe(true);
    expect(sent).toBeLessThan(60 * MB);
    expect(h.logs.some((l) => l.includes("sent without a length) passed"))).toBe(true);
    expect(after.status).toBe(200);
  }, 60_000);

  it("invariant: no 5xx and nothing enqueued for oversized, malformed, unknown or tricky payloads; secrets never logged", async () => {
    const h = await startHarness({ map: MAP, repos: repos(), gitlabProjects: ["group/tool"], env: { OPENCI_ADMIN_TOKEN: "admin-token-0123456789", GITLAB_WEBHOOK_SECRET: "gitlab-hook-secret-123" } });
    const huge = Buffer.alloc(26 * 1024 * 1024, 0x20);
    const trick = (payload: object) => JSON.stringify(payload);
    const tricky = [
      trick({ ref: "v1", ref_type: "tag", repository: { full_name: "../../etc/passwd" }, installation: { id: 1 } }),
      trick({ ref: "v".repeat(300_000), ref_type: "tag", repository: { full_name: UPSTREAM }, installation: { id: 1 } }),
      trick({ ref: ["v1"], ref_type: "tag", repository: { full_name: UPSTREAM } }),
      trick({ ref: "v1 ; rm -rf /", ref_type: "tag", repository: { full_name: UPSTREAM } }),
    ];
    const run = trick({ action: "completed", workflow_run: { id: 9, status: "completed", conclusion: "failure", html_url: "javascript:alert(document.domain)" }, repository: { full_name: "acme/app" } });

    const statuses = {
      oversized: await post(h, huge, { "x-github-event": "create", "x-hub-signature-256": signed("x") }),
      malformed: await post(h, "{not json", { "x-github-event": "create", "x-hub-signature-256": signed("{not json") }),
      unknownEvent: await post(h, "{}", { "x-github-event": "star", "x-hub-signature-256": signed("{}") }),
      tricky: await Promise.all(tricky.map((b) => post(h, b, { "x-github-event": "create", "x-hub-signature-256": signed(b) }))),
      scriptLink: await post(h, run, { "x-github-event": "workflow_run", "x-hub-signature-256": signed(run) }),
      unsignedGitlab: (await fetch(`${h.url}/api/gitlab/webhooks`, { method: "POST", headers: { "x-gitlab-event": "Tag Push Hook", "x-gitlab-token": "wrong" }, body: "{}" })).status,
      signedGitlab: (await fetch(`${h.url}/api/gitlab/webhooks`, { method: "POST", headers: { "x-gitlab-event": "Tag Push Hook", "x-gitlab-token": "gitlab-hook-secret-123" }, body: "{}" })).status,
      junkEvent: await post(h, "{}", { "x-github-event": "junk-event-name-1234" }),
    };
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    await h.idle();
    const all = [statuses.oversized, statuses.malformed, statuses.unknownEvent, ...statuses.tricky, statuses.scriptLink, statuses.unsignedGitlab, statuses.signedGitlab, statuses.junkEvent];
    const logs = h.logs.join("");

    expect(all.every((s) => s > 0 && s < 500) || statuses.oversized === -1).toBe(true);
    expect([statuses.oversized === 413 || statuses.oversized === -1, statuses.malformed, statuses.unknownEvent, statuses.unsignedGitlab]).toEqual([true, 400, 200, 401]);
    expect(statuses.tricky.every((s) => s === 200)).toBe(true);
    expect(await jobCount(h.redisUrl, "events", ["waiting", "active", "completed", "delayed"])).toBe(0);
    // the tricky ones, the script link, and the (well signed) empty GitLab tag push
    expect(h.logs.filter((l) => l.includes("payload rejected")).length).toBe(tricky.length + 2);
    expect([statuses.scriptLink, statuses.signedGitlab]).toEqual([200, 200]);
    expect(metrics).toContain('openci_webhook_deliveries_total{forge="github",event="other",outcome="rejected"} 1');
    expect(metrics).not.toContain("junk-event-name");
    for (const secret of [WEBHOOK_SECRET, GITLAB_TOKEN, "admin-token-0123456789", "gitlab-hook-secret-123", appPrivateKey().split("\n")[1]!]) {
      expect(logs).not.toContain(secret);
    }
  });
});
