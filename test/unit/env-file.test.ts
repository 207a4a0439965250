import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv as parseDotenv } from "node:util";
import { describe, expect, it } from "@jest/globals";
import { addToEnvFile } from "../../src/setup/env-file.js";

describe("the setup page's .env writer", () => {
  it("fills empty assignments in place, appends missing ones, keeps every value already there, and makes the file 0600", () => {
    const file = join(mkdtempSync(join(tmpdir(), "openci-env-")), ".env");
    writeFileSync(file, "# copied from .env.example\nAPP_ID=\nPRIVATE_KEY=\nWEBHOOK_SECRET=mine\nPORT=3000", { mode: 0o644 });

    const first = addToEnvFile(file, { APP_ID: "42", PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n", WEBHOOK_SECRET: "theirs", GITHUB_APP_SLUG: "relay" });
    const after = readFileSync(file, "utf8");
    const second = addToEnvFile(file, { APP_ID: "43", GITHUB_APP_SLUG: "other" });

    expect(first).toEqual({ written: ["APP_ID", "PRIVATE_KEY", "GITHUB_APP_SLUG"], kept: ["WEBHOOK_SECRET"] });
    expect(after.split("\n").slice(0, 5)).toEqual([
      "# copied from .env.example", 'APP_ID="42"', 'PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----\\n"', "WEBHOOK_SECRET=mine", "PORT=3000",
    ]);
    expect(parseDotenv(after)).toEqual({
      APP_ID: "42", PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----\n", WEBHOOK_SECRET: "mine", PORT: "3000", GITHUB_APP_SLUG: "relay",
    });
    expect(second).toEqual({ written: [], kept: ["APP_ID", "GITHUB_APP_SLUG"] });
    expect(readFileSync(file, "utf8")).toBe(after);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
