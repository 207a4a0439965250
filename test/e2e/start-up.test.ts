import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { appPrivateKey } from "../helpers/keys.js";
import { ROOT, runRelay } from "../helpers/spawn-relay.js";

const valid = { APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s", REDIS_URL: "redis://127.0.0.1:1" };

describe("start-up errors", () => {
  it("stops on an invalid map with file, line and problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-start-"));
    writeFileSync(join(dir, "map.yml"), "projects:\n  - id: a\n    github: o/a\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on:\n      - project: missing\n");

    const r = await runRelay({ ...valid, OPENCI_MAP: "map.yml" }, dir);

    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "Invalid dependency map map.yml:\n  map.yml:6:18: projects[0].depends_on[0].project: unknown project 'missing': add it to 'projects' or fix the id",
    );
  });

  it("stops on a bad variable, naming it", async () => {
    const r = await runRelay({ ...valid, OPENCI_ROLE: "everything" }, ROOT);

    expect(r.code).toBe(1);
    expect(r.stderr).toContain("OPENCI_ROLE must be one of all, web, worker");
    expect(r.stderr).not.toContain("    at ");
  });

  it("says how to install Redis when REDIS_URL is unset and no redis-server is found", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-start-"));
    const { REDIS_URL: _r, ...noRedis } = valid;

    const r = await runRelay({ ...noRedis, OPENCI_MAP: join(ROOT, "openci-map.yml"), PATH: "/nonexistent" }, dir);

    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      "redis-server was not found: install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a running Redis",
    );
  });
});
