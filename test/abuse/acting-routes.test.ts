import { describe, expect, it } from "@jest/globals";
import { main } from "../../src/cli/main.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";

/**
 * Issue 16, finding 6: a browser resends a cached Basic password with any cross-site form post,
 * and a form may say any content type. The acting API takes only a Bearer token and JSON, so a
 * forged form or fetch from another site acts on nothing.
 */
const ADMIN = "abuse-admin-token-0123456789";
const MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
`;
const startHarness = useHarness();
const basic = `Basic ${Buffer.from(`ops:${ADMIN}`).toString("base64")}`;
const bearer = `Bearer ${ADMIN}`;
const RERUN = JSON.stringify({ upstream: "nope", sha: COMMIT });

async function post(url: string, headers: Record<string, string>, body: string) {
  const res = await fetch(url, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as { error?: string } };
}

describe("acting routes under /api/", () => {
  it.each([
    ["POST /api/v1/reruns", "/api/v1/reruns", RERUN],
    ["POST /api/v1/sinks/redrive", "/api/v1/sinks/redrive", "{}"],
  ])("%s refuses the browser's Basic password (401 saying to use Bearer), whatever the content type", async (_name, path, body) => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, env: { OPENCI_ADMIN_TOKEN: ADMIN } });

    const json = await post(`${h.url}${path}`, { authorization: basic, "content-type": "application/json" }, body);
    const form = await post(`${h.url}${path}`, { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, "upstream=hello");

    expect(json.status).toBe(401);
    expect(json.body.error).toMatch(/Authorization: Bearer/);
    expect(json.body.error).toMatch(/Basic/);
    expect(form.status).toBe(401);
  });

  it.each([
    ["text/plain", "text/plain;charset=UTF-8"],
    ["a form", "application/x-www-form-urlencoded"],
    ["multipart", "multipart/form-data; boundary=x"],
    ["no content type", undefined],
  ])("with the Bearer token but %s: 415 saying to send JSON", async (_name, type) => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    const headers: Record<string, string> = { authorization: bearer, ...(type ? { "content-type": type } : {}) };

    const rerun = await post(`${h.url}/api/v1/reruns`, headers, RERUN);
    const redrive = await post(`${h.url}/api/v1/sinks/redrive`, headers, "{}");

    for (const answer of [rerun, redrive]) {
      expect(answer.status).toBe(415);
      expect(answer.body.error).toMatch(/Content-Type: application\/json/);
    }
  });

  it("with the Bearer token and JSON, acts as before (and the CLI sends exactly that)", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    const err: string[] = [];

    const rerun = await post(`${h.url}/api/v1/reruns`, { authorization: bearer, "content-type": "application/json; charset=utf-8" }, RERUN);
    const redrive = await post(`${h.url}/api/v1/sinks/redrive`, { authorization: bearer, "content-type": "application/json" }, "{}");
    const cli = await main(["rerun", "--upstream", "nope", "--sha", COMMIT, "--url", h.url], { OPENCI_ADMIN_TOKEN: ADMIN }, () => {}, (s) => err.push(s));
    const cliRedrive = await main(["sinks", "redrive", "--url", h.url], { OPENCI_ADMIN_TOKEN: ADMIN }, () => {}, (s) => err.push(s));

    expect(rerun).toEqual({ status: 404, body: { error: "no project 'nope' in the dependency map" } });
    expect(redrive).toEqual({ status: 202, body: { redriven: 0, jobs: [] } });
    expect(cli).toBe(1);
    expect(err.join("")).toContain("the relay answered 404: no project 'nope'");
    expect(cliRedrive).toBe(0);
  });

  it("keeps Basic for reading the subscribers' list (a GET acts on nothing)", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, env: { OPENCI_ADMIN_TOKEN: ADMIN } });

    const res = await fetch(`${h.url}/api/v1/sinks`, { headers: { authorization: basic } });

    expect(res.status).toBe(200);
  });
});
