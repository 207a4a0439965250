import { spawnSync } from "node:child_process";
import { describe, expect, it } from "@jest/globals";

const ROOT = new URL("../../", import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, ["bin/openci-relay.js", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } });

describe("the openci-relay bin (npx openci-relay)", () => {
  it("runs from a fresh checkout: validates the cross-community map, exit 0", () => {
    const r = run("validate", "fixtures/maps/cross-community.yml");

    expect(r.stdout).toBe("fixtures/maps/cross-community.yml: valid: 31 projects, 45 edges, 4 foundations in 1 file\n");
    expect(r.status).toBe(0);
  });

  it("reports errors on stderr with the documented exit codes", () => {
    const unknown = run("explain", "fixtures/maps/cross-community.yml", "nope", "1.0");
    const usage = run("graph");

    expect([unknown.status, usage.status]).toEqual([1, 2]);
    expect(unknown.stderr).toContain("no project 'nope'");
    expect(unknown.stdout).toBe("");
    expect(usage.stderr).toContain("give one FILE or DIR");
  });
});
