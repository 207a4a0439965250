import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { ForgeError } from "../../src/forge/errors.js";
import { ZUUL_RESULTS, ZuulBuilds, zuulRef } from "../../src/forge/zuul.js";
import { FakeZuul } from "../fakes/zuul/fake-zuul.js";
import { useLoopbackServers } from "../helpers/loopback-server.js";

/** The rejection of `p`, which must be a ForgeError. */
async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

const NOVA = "openstack/nova";

describe("ZuulBuilds against a fake zuul-web", () => {
  let zuul: FakeZuul;
  let builds: ZuulBuilds;
  beforeEach(async () => {
    zuul = await FakeZuul.start();
    builds = new ZuulBuilds({ url: zuul.base, tenant: "openstack" });
  });
  afterEach(async () => {
    await zuul.stop();
    expect(zuul.problems).toEqual([]);
  });

  it("reads a tag's succeeded release buildset with one GET of the documented route and parameters", async () => {
    zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "SUCCESS" });

    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "success" });

    expect(zuul.requests).toEqual([
      expect.objectContaining({
        method: "GET", path: "/api/tenant/openstack/buildsets", status: 200,
        query: "project=openstack%2Fnova&pipeline=release&ref=refs%2Ftags%2F31.0.0&limit=1",
      }),
    ]);
    expect(zuul.requests[0]!.headers["user-agent"]).toBe("openci-relay");
    expect(zuul.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("takes the tag as a name or as refs/tags/…, asking Zuul the same", async () => {
    zuul.addBuildset({ project: NOVA, ref: "refs/tags/v1", pipeline: "release", result: "SUCCESS" });

    const asName = await builds.checkState(NOVA, "v1", "release");
    const asRef = await builds.checkState(NOVA, "refs/tags/v1", "release");

    expect(asName).toEqual({ completed: true, conclusion: "success" });
    expect(asRef).toEqual(asName);
    expect(zuul.requests.map((r) => r.query)).toEqual([
      "project=openstack%2Fnova&pipeline=release&ref=refs%2Ftags%2Fv1&limit=1",
      "project=openstack%2Fnova&pipeline=release&ref=refs%2Ftags%2Fv1&limit=1",
    ]);
    expect(zuulRef(" v2.0 ")).toBe("refs/tags/v2.0");
    expect(zuulRef("refs/heads/stable/2025.1")).toBe("refs/heads/stable/2025.1");
    expect(() => zuulRef("")).toThrow(ForgeError);
  });

  it("maps every result Zuul reports, exhaustively, to the conclusion in the table", async () => {
    const expected: Record<string, string> = {
      SUCCESS: "success", FAILURE: "failure", ERROR: "failure", MERGE_CONFLICT: "failure", MERGE_FAILURE: "failure",
      CONFIG_ERROR: "failure", POST_FAILURE: "failure", RETRY_LIMIT: "failure", NODE_FAILURE: "failure", DISK_FULL: "failure",
      TIMED_OUT: "timed_out", NO_JOBS: "skipped", SKIPPED: "skipped", DEQUEUED: "cancelled", CANCELED: "cancelled", ABORTED: "cancelled",
    };
    expect(ZUUL_RESULTS).toEqual(expected);
    for (const [result, conclusion] of Object.entries(expected)) {
      const tag = `r-${result.toLowerCase()}`;
      zuul.addBuildset({ project: NOVA, ref: `refs/tags/${tag}`, pipeline: "release", result });
      await expect(builds.checkState(NOVA, tag, "release")).resolves.toEqual({ completed: true, conclusion });
    }
  });

  it("takes a result it does not know as a failure, with a note in the log, never a crash", async () => {
    const notes: { obj: object; msg: string }[] = [];
    const logged = new ZuulBuilds({ url: zuul.base, tenant: "openstack", log: { warn: (obj, msg) => notes.push({ obj, msg }) } });
    const b = zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "QUANTUM_FLUX" });

    await expect(logged.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "failure" });

    expect(notes).toEqual([
      { obj: expect.objectContaining({ result: "QUANTUM_FLUX", buildset: b.uuid, pipeline: "release", tenant: "openstack" }), msg: expect.stringContaining("QUANTUM_FLUX") },
    ]);
    // without a logger it still answers
    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "failure" });
  });

  it("says a running buildset is not completed, then reads its end", async () => {
    const b = zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release" });

    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: false, conclusion: undefined });
    zuul.finish(b.uuid, "POST_FAILURE");
    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "failure" });
  });

  it("answers undefined while the tag has no buildset in that pipeline, whatever other pipelines, tags and projects have", async () => {
    zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "pre-release", result: "SUCCESS" });
    zuul.addBuildset({ project: NOVA, ref: "refs/tags/30.0.0", pipeline: "release", result: "SUCCESS" });
    zuul.addBuildset({ project: "openstack/neutron", ref: "refs/tags/31.0.0", pipeline: "release", result: "SUCCESS" });
    zuul.addTenant("starlingx");
    zuul.addBuildset({ tenant: "starlingx", project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "SUCCESS" });

    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toBeUndefined();
    expect(zuul.requests.map((r) => r.status)).toEqual([200]);
  });

  it("lets the newest buildset count: a re-run's result, or its still running", async () => {
    zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "FAILURE" });
    const rerun = zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "SUCCESS" });
    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "success" });
    await expect(builds.latestBuildset(NOVA, "31.0.0", "release")).resolves.toEqual(expect.objectContaining({ uuid: rerun.uuid, url: `${zuul.base}/t/openstack/buildset/${rerun.uuid}`, newrev: rerun.newrev }));

    zuul.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release" });
    await expect(builds.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: false, conclusion: undefined });
  });

  it("reads Zuul 3.6–9's buildsets, whose ref is at the top instead of in refs", async () => {
    const old = await FakeZuul.start({ format: "flat" });
    try {
      old.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "MERGE_CONFLICT" });
      const b = old.addBuildset({ project: NOVA, ref: "refs/tags/32.0.0", pipeline: "release", result: "SUCCESS" });
      const reader = new ZuulBuilds({ url: old.base, tenant: "openstack" });

      await expect(reader.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "failure" });
      await expect(reader.latestBuildset(NOVA, "refs/tags/32.0.0", "release")).resolves.toEqual(expect.objectContaining({ uuid: b.uuid, result: "SUCCESS", newrev: b.newrev }));
      expect(old.problems).toEqual([]);
    } finally {
      await old.stop();
    }
  });

  it("reads a Zuul served below a path, and a white-labeled one at /api/buildsets", async () => {
    const sub = await FakeZuul.start({ prefix: "/zuul" });
    const white = await FakeZuul.start({ whitelabel: "openstack" });
    try {
      sub.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "SUCCESS" });
      const w = white.addBuildset({ project: NOVA, ref: "refs/tags/31.0.0", pipeline: "release", result: "DEQUEUED" });

      await expect(new ZuulBuilds({ url: `${sub.base}/`, tenant: "openstack" }).checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "success" });
      const labeled = new ZuulBuilds({ url: white.base, tenant: "openstack", whitelabel: true });
      await expect(labeled.checkState(NOVA, "31.0.0", "release")).resolves.toEqual({ completed: true, conclusion: "cancelled" });
      await expect(labeled.latestBuildset(NOVA, "31.0.0", "release")).resolves.toEqual(expect.objectContaining({ url: `${white.base}/buildset/${w.uuid}` }));

      expect(sub.requests.map((r) => r.path)).toEqual(["/zuul/api/tenant/openstack/buildsets"]);
      expect(white.requests.map((r) => r.path)).toEqual(["/api/buildsets", "/api/buildsets"]);
      expect([...sub.problems, ...white.problems]).toEqual([]);
    } finally {
      await sub.stop();
      await white.stop();
    }
  });

  it("stops on a tenant Zuul does not know, saying to check zuul.tenant", async () => {
    const wrong = new ZuulBuilds({ url: zuul.base, tenant: "openstak" });

    const e = await failure(wrong.checkState(NOVA, "31.0.0", "release"));

    expect(e).toMatchObject({ kind: "config", status: 404 });
    expect(e.hint).toContain("check zuul.tenant (openstak)");
    expect(zuul.requests.map((r) => [r.path, r.status])).toEqual([["/api/tenant/openstak/buildsets", 404]]);
  });

  it("retries a 503, a tenant still loading (422) and a refused connection, holds on a 429; stops on a read-protected tenant", async () => {
    zuul.fail(503);
    expect(await failure(builds.checkState(NOVA, "31.0.0", "release"))).toMatchObject({ kind: "transient", status: 503 });

    zuul.addTenant("loading", "not_loaded");
    const loading = await failure(new ZuulBuilds({ url: zuul.base, tenant: "loading" }).checkState(NOVA, "31.0.0", "release"));
    expect(loading).toMatchObject({ kind: "transient", status: 422 });

    zuul.fail(429, 1, { "retry-after": "7" });
    expect(await failure(builds.checkState(NOVA, "31.0.0", "release"))).toMatchObject({ kind: "rate_limited", retryAfterMs: 7000 });

    zuul.addTenant("private");
    zuul.protect("private");
    const locked = await failure(new ZuulBuilds({ url: zuul.base, tenant: "private" }).checkState(NOVA, "31.0.0", "release"));
    expect(locked).toMatchObject({ kind: "config", status: 401 });
    expect(locked.hint).toContain("read-protected");

    const closed = await FakeZuul.start();
    await closed.stop();
    const refused = await failure(new ZuulBuilds({ url: closed.base, tenant: "openstack" }).checkState(NOVA, "31.0.0", "release"));
    expect(refused.kind).toBe("transient");
    expect(refused.message).toContain("network error");
  });

  describe("a server that is not zuul-web's root", () => {
    const serve = useLoopbackServers();

    it("times out as transient, naming zuul-web", async () => {
      const silent = await serve(() => undefined);
      const e = await failure(new ZuulBuilds({ url: silent, tenant: "openstack", timeoutMs: 150 }).checkState(NOVA, "31.0.0", "release"));
      expect(e.kind).toBe("transient");
      expect(e.hint).toContain("zuul-web is slow");
    });

    it("refuses an answer that is not JSON, not buildsets, or another ref's, pipeline's or project's buildset, as configuration errors", async () => {
      const html = await serve((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>Zuul dashboard</html>"));
      const shape = await serve((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ buildsets: [] })));
      const unfiltered = await serve((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify([{ uuid: "b1", result: "SUCCESS", pipeline: "release", refs: [{ project: NOVA, ref: "refs/tags/30.0.0" }] }])),
      );
      const otherPipeline = await serve((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify([{ uuid: "b2", result: "SUCCESS", pipeline: "check", refs: [{ project: NOVA, ref: "refs/tags/31.0.0" }] }])),
      );
      const otherProject = await serve((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify([{ uuid: "b3", result: "SUCCESS", pipeline: "release", refs: [{ project: "openstack/neutron", ref: "refs/tags/31.0.0" }] }])),
      );
      for (const url of [html, shape, unfiltered, otherPipeline, otherProject]) {
        const e = await failure(new ZuulBuilds({ url, tenant: "openstack" }).checkState(NOVA, "31.0.0", "release"));
        expect(e.kind).toBe("config");
        expect(e.hint).toContain("zuul-web's root");
      }
    });

    it("refuses an answer larger than its cap without reading it all", async () => {
      const huge = await serve((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20)));
      const e = await failure(new ZuulBuilds({ url: huge, tenant: "openstack" }).checkState(NOVA, "31.0.0", "release"));
      expect(e.kind).toBe("config");
      expect(e.message).toContain("larger than 4194304 bytes");
    });
  });

  it("refuses what Zuul would read as a wildcard, and a URL that is not one, before any request", async () => {
    expect(await failure(builds.checkState("openstack/*", "31.0.0", "release"))).toMatchObject({ kind: "config" });
    expect(await failure(builds.checkState(NOVA, "31.0.0", "rel*"))).toMatchObject({ kind: "config" });
    expect(() => new ZuulBuilds({ url: "zuul.opendev.org", tenant: "openstack" })).toThrow(ForgeError);
    expect(() => new ZuulBuilds({ url: "ftp://zuul.opendev.org", tenant: "openstack" })).toThrow(ForgeError);
    expect(() => new ZuulBuilds({ url: "https://zuul.opendev.org", tenant: " " })).toThrow(ForgeError);
    expect(zuul.requests).toEqual([]);
  });
});

describe("the fake zuul-web itself", () => {
  it("records, and refuses as Zuul would, routes and parameters outside the buildsets list", async () => {
    const zuul = await FakeZuul.start();
    try {
      const get = async (path: string) => (await fetch(`${zuul.base}${path}`)).status;
      expect(await get("/api/tenant/openstack/buildsets?project=openstack%2Fnova&job_name=x")).toBe(404);
      expect(await get("/api/tenant/openstack/builds")).toBe(404);
      expect(await get("/api/tenant/openstack/buildsets?limit=few")).toBe(400);
      expect(await get("/api/tenant/openstack/buildsets?exclude_result=FAILURE&complete=true&skip=0")).toBe(200);
      expect(zuul.problems).toEqual([
        expect.stringContaining("job_name is not a parameter of Zuul's buildsets list"),
        expect.stringContaining("is not a route of the fake"),
        expect.stringContaining("limit must be one non-negative integer"),
      ]);
    } finally {
      await zuul.stop();
    }
    const white = await FakeZuul.start({ whitelabel: "example" });
    try {
      expect((await fetch(`${white.base}/api/tenant/example/buildsets`)).status).toBe(404);
      expect((await fetch(`${white.base}/api/buildsets`)).status).toBe(200);
      expect(white.problems).toEqual([expect.stringContaining("GET /api/tenant/example/buildsets is not a route of the fake (GET /api/buildsets)")]);
    } finally {
      await white.stop();
    }
  });

  it("filters and orders as Zuul's SQL does: wildcards, skip, complete, exclude_result", async () => {
    const zuul = await FakeZuul.start();
    try {
      const a = zuul.addBuildset({ project: NOVA, ref: "refs/tags/1", pipeline: "release", result: "SUCCESS" });
      const b = zuul.addBuildset({ project: "openstack/neutron", ref: "refs/tags/1", pipeline: "release", result: "FAILURE" });
      const c = zuul.addBuildset({ project: NOVA, ref: "refs/tags/2", pipeline: "release" });
      const uuids = async (q: string) => ((await (await fetch(`${zuul.base}/api/tenant/openstack/buildsets?${q}`)).json()) as { uuid: string }[]).map((x) => x.uuid);
      expect(await uuids("")).toEqual([c.uuid, b.uuid, a.uuid]);
      expect(await uuids("project=openstack/*&skip=1&limit=1")).toEqual([b.uuid]);
      expect(await uuids("complete=true")).toEqual([b.uuid, a.uuid]);
      expect(await uuids("complete=false")).toEqual([c.uuid]);
      expect(await uuids("exclude_result=FAILURE")).toEqual([a.uuid]);
      expect(await uuids("ref=refs/tags/1&result=SUCCESS&result=FAILURE")).toEqual([b.uuid, a.uuid]);
      const [shape] = (await (await fetch(`${zuul.base}/api/tenant/openstack/buildsets?uuid=${a.uuid}`)).json()) as Record<string, unknown>[];
      expect(Object.keys(shape!).sort()).toEqual(["_id", "event_id", "event_timestamp", "first_build_start_time", "last_build_end_time", "message", "pipeline", "refs", "result", "uuid"]);
      expect(shape!.first_build_start_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      expect(zuul.problems).toEqual([]);
    } finally {
      await zuul.stop();
    }
  });
});
