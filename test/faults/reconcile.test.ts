import { describe, expect, it } from "@jest/globals";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo } from "../helpers/upstream.js";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITLAB_TOKEN } from "../helpers/relay-harness.js";

const OTHER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const MAP = `
projects:
  - { id: hello, github: ${UPSTREAM} }
  - { id: gl/lib, gitlab: group/lib }
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello, tags: "v*" }, { project: gl/lib, tags: "v*" }]
`;
const startHarness = useHarness();

/**
 * The reconciler runs every second for the whole test: its next pass is always scheduled, and its
 * listings keep reaching the fakes. The relay is idle when everything else is; what a pass enqueues
 * (a tag's event, its trigger) is not ignored.
 */
const RECONCILER: Ignored = {
  queue: "events", name: "reconcile", why: "OPENCI_RECONCILE_MS=1000: a pass is always scheduled or running",
  requests: ["apps/list-webhook-deliveries", "repos/list-tags", "list_repository_tags", "apps/create-installation-access-token"],
};

/** Waits for two more reconciler passes to begin, so that one ran in full after what the test waited for. */
async function twoMorePasses(h: Harness): Promise<void> {
  const passes = () => h.github.calls("apps/list-webhook-deliveries").filter((c) => c.query.cursor === undefined).length;
  const now = passes();
  await waitFor("two more reconciler passes", () => passes() >= now + 2, 15_000);
}

describe("fault: tags no delivery announced (a five-tag push, deliveries the forge gave up on)", () => {
  it("invariant: the reconciler triggers each such tag exactly once, never a tag the relay saw, nor one from before its baseline", async () => {
    const upstream = { installationId: 1, tags: { "v0.9": { type: "commit" as const, sha: COMMIT } } as Record<string, { type: "commit" | "tag"; sha: string }> };
    const h = await startHarness({
      map: MAP, repos: { [UPSTREAM]: upstream, "acme/app": acmeAppRepo() }, gitlabProjects: ["group/lib"],
      env: { OPENCI_RECONCILE_MS: "1000" },
    });
    await waitFor("the baseline", () => h.logs.some((l) => l.includes("reconcile: baseline taken") && l.includes('"upstream":"hello"')), 15_000);

    // Five tags pushed at once: GitHub sends no tag event for them. One more arrives the normal way.
    for (let i = 1; i <= 5; i++) upstream.tags[`v1.${i}`] = { type: "commit", sha: i % 2 ? COMMIT : OTHER };
    upstream.tags["v2.0"] = { type: "commit", sha: COMMIT };
    await h.send("create.tag", (p) => { p.ref = "v2.0"; });
    h.gitlab!.setTags("group/lib", { "v3.0": COMMIT });
    const dispatched = () => h.github.calls("actions/create-workflow-dispatch").map((c) => `${c.body.inputs.openci_upstream}@${c.body.inputs.openci_tag}`).sort();
    await waitFor("the missed tags dispatched", () => dispatched().length >= 7, 20_000);
    await twoMorePasses(h);
    await h.idle({ ignore: [RECONCILER] });

    expect(dispatched()).toEqual(["gl/lib@v3.0", "hello@v1.1", "hello@v1.2", "hello@v1.3", "hello@v1.4", "hello@v1.5", "hello@v2.0"]);
    expect(h.github.calls("repos/list-tags").length).toBeGreaterThanOrEqual(3);
    expect(h.gitlab!.calls("list_repository_tags")[0]!.headers["private-token"]).toBe(GITLAB_TOKEN);
    expect(h.logs.some((l) => l.includes("reconcile: tags that no delivery announced were enqueued"))).toBe(true);
  }, 60_000);
});

describe("fault: deliveries the relay could not take (Redis was down)", () => {
  it("invariant: the reconciler has GitHub redeliver each failed delivery, which then triggers exactly once; a forgery is not GitHub's to redeliver", async () => {
    const tags = Object.fromEntries(["v1", "v2", "v3", "v4"].map((t) => [t, { type: "commit" as const, sha: COMMIT }]));
    const h = await startHarness({
      map: MAP, repos: { [UPSTREAM]: { installationId: 1, tags }, "acme/app": acmeAppRepo() }, durableRedis: true,
      env: { OPENCI_RECONCILE_MS: "1000" },
    });
    await waitFor("the baseline (the tags are known: only redelivery can bring them)", () => h.logs.some((l) => l.includes("reconcile: baseline taken") && l.includes('"upstream":"hello"')), 15_000);

    h.killRedis();
    const refused = [];
    for (const tag of ["v1", "v2", "v3"]) refused.push((await h.send("push.tag", (p) => { p.ref = `refs/tags/${tag}`; p.after = COMMIT; })).status);
    const forged = await h.send("push.tag", (p) => { p.ref = "refs/tags/v4"; }, { signature: `sha256=${"0".repeat(64)}` });
    // Later deliveries that went well push the failed ones to GitHub's second page of the log.
    for (let i = 0; i < 120; i++) h.github.logDelivery(`later-${i}`, "ping", { zen: "Keep it logically awesome." }, 200);
    await h.restartRedis();
    const dispatched = () => h.github.calls("actions/create-workflow-dispatch").map((c) => c.body.inputs.openci_tag).sort();
    await waitFor("the redelivered tags dispatched", () => dispatched().length >= 3, 30_000);
    await twoMorePasses(h);
    await h.idle({ ignore: [RECONCILER] });

    expect(refused).toEqual([503, 503, 503]);
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(dispatched()).toEqual(["v1", "v2", "v3"]);
    expect(h.github.calls("apps/redeliver-webhook-delivery")).toHaveLength(3);
    expect(h.github.calls("apps/list-webhook-deliveries").some((c) => c.query.cursor !== undefined)).toBe(true);
    expect(h.github.hookDeliveries.filter((d) => d.redelivery).map((d) => d.statusCode)).toEqual([200, 200, 200]);
  }, 90_000);
});
