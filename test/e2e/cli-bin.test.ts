import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The bin runs dist/ when there is one, and this checkout's dist/ may be older than its src/ (it is
 * made by `npm run build`, not by the tests). So the bin runs here from a package of its own: the
 * real bin/openci-relay.js and package.json, this checkout's src/ and node_modules/, and no dist/,
 * as right after `npm ci`: what it runs is the source under test, never a stale build.
 */
let pkg: string;
beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), "openci-bin-"));
  mkdirSync(join(pkg, "bin"));
  copyFileSync(join(ROOT, "bin/openci-relay.js"), join(pkg, "bin/openci-relay.js"));
  copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(ROOT, "src"), join(pkg, "src"));
  symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
});
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

const run = (...args: string[]) =>
  spawnSync(process.execPath, [join(pkg, "bin/openci-relay.js"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } });

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

  it("runs dist/ once it is built, and the source only without it (what the tests above rely on)", () => {
    const built = join(pkg, "dist/cli");
    mkdirSync(built, { recursive: true });
    writeFileSync(join(built, "bin.js"), 'process.stdout.write("the built CLI\\n");\n');
    try {
      const r = run("validate", "fixtures/maps/cross-community.yml");

      expect(r.stdout).toBe("the built CLI\n");
      expect(r.status).toBe(0);
    } finally {
      rmSync(join(pkg, "dist"), { recursive: true, force: true });
    }
  });
});
