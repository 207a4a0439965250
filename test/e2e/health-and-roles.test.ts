import { describe, expect, it } from "@jest/globals";
import { jobCount } from "../helpers/queue-counts.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";

const MAP = GITHUB_TO_GITHUB_MAP;
const repos = () => ({ [UPSTREAM]: upstreamRepo(), "acme/app": acmeAppRepo() });
const startHarness = useHarness();

const status = async (url: string) => (await fetch(url)).status;

describe("health", () => {
  it("is alive throughout, and ready only while Redis answers", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const before = await status(`${h.url}/readyz`);

    h.killRedis();
    const down = await waitFor("readyz to say 503", async () => (await status(`${h.url}/readyz`)) === 503);
    const aliveWhileDown = await status(`${h.url}/healthz`);
    await h.restartRedis();
    const up = await waitFor("readyz to recover", async () => (await status(`${h.url}/readyz`)) === 200, 15_000);

    expect([before, down, aliveWhileDown, up]).toEqual([200, true, 200, true]);
  });

  it("answers readiness with a JSON body saying why", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });

    const res = await fetch(`${h.url}/readyz`);

    expect(await res.json()).toEqual({ status: "ready", redis: "ok" });
  });
});

describe("roles", () => {
  it("web only enqueues; workers started later trigger each downstream exactly once", async () => {
    const h = await startHarness({ map: MAP, repos: repos(), env: { OPENCI_ROLE: "web" } });

    const res = await h.send("create.tag");
    // The tag's event job waits for a worker, and none runs yet: everything else must be quiet.
    await h.idle({ ignore: [{ queue: "events", name: "tag", why: "the web role only enqueues; no worker takes it yet" }] });
    const waitingBeforeWorkers = await jobCount(h.redis.url, "events", ["waiting"]);
    const requestsBeforeWorkers = h.github.requests.length;
    await Promise.all([h.launch({ OPENCI_ROLE: "worker" }), h.launch({ OPENCI_ROLE: "worker" })]);
    await h.send("push.tag");
    await waitFor("an in-progress check", () => downstreamChecks(h.github).some((c) => c.status === "in_progress"));
    await h.idle();

    expect(res.status).toBe(200);
    expect(waitingBeforeWorkers).toBe(1);
    expect(requestsBeforeWorkers).toBe(0);
    expect(h.github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(downstreamChecks(h.github)).toHaveLength(1);
  });
});

describe("a worker-only process", () => {
  it("answers health checks and metrics scrapes on its own port, and nothing else (no webhooks)", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const worker = await h.launch({ OPENCI_ROLE: "worker" });

    const [healthz, readyz, metrics, webhook] = await Promise.all([
      fetch(`${worker.url}/healthz`), fetch(`${worker.url}/readyz`), fetch(`${worker.url}/metrics`),
      fetch(`${worker.url}/api/github/webhooks`, { method: "POST", body: "{}" }),
    ]);

    expect(worker.url).not.toBe(h.url);
    expect([healthz.status, readyz.status, metrics.status, webhook.status]).toEqual([200, 200, 200, 404]);
    expect(await readyz.json()).toEqual({ status: "ready", redis: "ok" });
    expect(await metrics.text()).toContain('openci_jobs{queue="trigger",state="waiting"}');
  });
});
