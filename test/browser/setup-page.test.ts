import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv as parseDotenv } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import type { Browser } from "playwright-core";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { launchChromium } from "../helpers/browser.js";
import { appPrivateKey } from "../helpers/keys.js";
import { ROOT } from "../helpers/spawn-relay.js";
import { createLogger } from "../../src/log.js";
import { startSetupServer, type SetupServer } from "../../src/setup/setup-server.js";

let browser: Browser;
let github: FakeGithub | undefined;
let setup: SetupServer | undefined;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await setup?.close();
  await github?.stop();
});

describe("the setup page in a real browser", () => {
  it("registers the app with one click through GitHub's new-app page and shows where to install it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-setup-browser-"));
    copyFileSync(join(ROOT, "app.yml"), join(dir, "app.yml"));
    github = await FakeGithub.start({ appId: 31, privateKey: appPrivateKey(), repos: {} });
    setup = await startSetupServer({
      env: { GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: 0, HOST: "127.0.0.1", LOG_LEVEL: "silent", LOG_FORMAT: undefined, OPENCI_PUBLIC_URL: "https://relay.example.org", WEBHOOK_PROXY_URL: undefined },
      envFile: join(dir, ".env"), appYml: join(dir, "app.yml"), log: createLogger("silent"),
    });
    const page = await browser.newPage();

    await page.goto(`${setup.url.replace("localhost", "127.0.0.1")}/`);
    const hookUrl = await page.locator("#hook-url").innerText();
    await page.getByRole("button", { name: "Register the GitHub App on GitHub" }).click();
    await page.locator("#install").waitFor();

    expect(hookUrl).toBe("https://relay.example.org/api/github/webhooks");
    expect(await page.locator("h1").innerText()).toBe("The GitHub App is registered");
    expect(await page.locator("#install").getAttribute("href")).toBe(`http://${github.host}/apps/${github.appSlug}/installations/new`);
    expect(new URL(page.url()).pathname).toBe("/setup/callback");
    expect(parseDotenv(readFileSync(join(dir, ".env"), "utf8")).APP_ID).toBe("31");
    expect(github.manifests).toHaveLength(1);
    expect(github.problems).toEqual([]);
    await page.close();
  });
});
