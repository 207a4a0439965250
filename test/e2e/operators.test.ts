import { describe, expect, it } from "@jest/globals";
import { hellosDependantsMap, hellosDependantsRepos, releaseWithAFailure } from "../helpers/history.js";
import { useHarness } from "../helpers/scenario.js";

const startHarness = useHarness();

/** The value of one Prometheus sample, e.g. metric('x_total{a="b"}'); undefined when absent. */
const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("GET /metrics", () => {
  it("counts deliveries by outcome, jobs by queue and state, the tag-to-trigger latency, forge calls and Redis health", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos() });
    await releaseWithAFailure(h);
    await h.send("create.tag", () => {}, { signature: "sha256=0000" });

    const res = await fetch(`${h.url}/metrics`);
    const text = await res.text();

    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(sample(text, 'openci_webhook_deliveries_total{forge="github",event="create",outcome="accepted"}')).toBe(1);
    expect(sample(text, 'openci_webhook_deliveries_total{forge="github",event="create",outcome="rejected"}')).toBe(1);
    expect(sample(text, 'openci_webhook_deliveries_total{forge="github",event="workflow_run",outcome="accepted"}')).toBe(2);
    expect(sample(text, "openci_tag_to_trigger_seconds_count")).toBe(2);
    expect(sample(text, 'openci_triggers_total{outcome="triggered"}')).toBe(2);
    expect(sample(text, 'openci_jobs{queue="trigger",state="completed"}')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'openci_forge_api_calls_total{forge="github",status="2xx"}')).toBeGreaterThan(0);
    expect(sample(text, "openci_redis_up")).toBe(1);
    expect(text).toContain("openci_process_resident_memory_bytes");
  });
});

describe("the dashboard's pages", () => {
  it("answer plain HTML (no script needed to read), fragments for live updates, and 404 pages for what is unknown", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos() });
    await releaseWithAFailure(h);

    const get = async (path: string) => {
      const res = await fetch(`${h.url}${path}`);
      return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
    };
    const matrix = await get("/");
    const fragment = await get("/?fragment=main");
    const filtered = await get("/?foundation=nowhere");
    const project = await get("/projects/hello");
    const now = await get("/now");

    expect(matrix.type).toBe("text/html; charset=utf-8");
    expect(matrix.text).toMatch(/^<!doctype html>/);
    expect(matrix.text).toContain('data-downstream="octo" data-status="failed"');
    expect(fragment.text).not.toContain("<html");
    expect(fragment.text).toContain('data-downstream="acme/app" data-status="passed"');
    expect(filtered.text).toContain("No releases match these filters");
    expect(project.text).toContain('<svg class="graph"');
    expect(project.text).toContain("octo · failed");
    expect(now.text).toContain("Nothing is running.");
    expect((await get("/projects/nobody")).status).toBe(404);
    expect((await get("/releases/hello/v0")).status).toBe(404);
    expect((await get("/releases/hello/simple-tag")).text).toContain("1 of 2</strong> downstreams passed");
    expect((await get(`/projects/${encodeURIComponent("<script>")}`)).text).not.toContain("<code><script>");
    const headers = (await fetch(`${h.url}/`)).headers;
    expect(headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  it("refuses a cross-site Re-run form post even with the admin password (CSRF), and takes the dashboard's own", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { OPENCI_ADMIN_TOKEN: "admin-token-0123456789" } });
    await releaseWithAFailure(h);
    const auth = `Basic ${Buffer.from("ops:admin-token-0123456789").toString("base64")}`;
    const form = new URLSearchParams({ upstream: "hello", sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", downstream: "octo" });
    const post = (headers: Record<string, string>) => fetch(`${h.url}/admin/reruns`, { method: "POST", headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded", ...headers }, body: form });

    const crossSite = await post({ "sec-fetch-site": "cross-site", origin: "https://evil.example" });
    const foreignOrigin = await post({ origin: "https://evil.example" });
    const sameSite = await post({ "sec-fetch-site": "same-origin", origin: h.url });

    expect([crossSite.status, foreignOrigin.status]).toEqual([403, 403]);
    expect(crossSite.headers.get("x-frame-options")).toBe("DENY");
    expect(sameSite.status).toBe(202);
    expect(await sameSite.text()).toContain("Re-run queued");
  });
});
