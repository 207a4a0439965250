import { describe, expect, it } from "@jest/globals";
import { useChromium } from "../helpers/browser.js";
import { hellosDependantsMap, hellosDependantsRepos } from "../helpers/history.js";
import { useHarness } from "../helpers/scenario.js";

const ADMIN = "admin-token-0123456789";
const startHarness = useHarness();
const browser = useChromium();

describe("the admin views' sign-in page in a real browser", () => {
  it("explains how to sign in before any prompt, prompts from its link, and opens the board with the token, offline", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    const anonymous = await browser().newContext();
    const mistaken = await browser().newContext({ httpCredentials: { username: "ops", password: "not-the-admin-token" } });
    const operator = await browser().newContext({ httpCredentials: { username: "ops", password: ADMIN } });
    const page = await anonymous.newPage();

    const first = await page.goto(`${h.url}/admin/queues`);
    const heading = await page.locator("h1").innerText();
    const text = await page.locator("main").innerText();
    const signIn = await page.getByRole("link", { name: "Sign in", exact: true }).getAttribute("href");
    const prompted = await page.getByRole("link", { name: "Sign in", exact: true }).click().then(
      () => page.waitForURL(/sign-in/, { timeout: 5_000 }).then(() => "no prompt", (e: Error) => e.message),
      (e: Error) => e.message,
    );
    const wrongPage = await mistaken.newPage();
    const wrong = await wrongPage.goto(`${h.url}/admin/queues?sign-in`);
    const board = await operator.newPage();
    const requested: string[] = [];
    board.on("request", (r) => requested.push(r.url()));
    const opened = await board.goto(`${h.url}/admin/queues?sign-in`);
    await board.getByText("trigger", { exact: true }).first().waitFor({ timeout: 15_000 });
    const api = await anonymous.request.get(`${h.url}/admin/queues`, { headers: { accept: "application/json" } });

    expect(first?.status()).toBe(401);
    expect(first?.headers()["www-authenticate"]).toMatch(/^Bearer /); // names the scheme, without a prompt before the page is read
    expect(heading).toBe("Sign in to the admin views");
    expect(text).toContain("User name: anything.");
    expect(text).toContain("Password: the relay's OPENCI_ADMIN_TOKEN");
    expect(text).toContain("Running npm run demo? It printed the token when it started");
    expect(signIn).toBe("/admin/queues?sign-in");
    expect(prompted).not.toBe("no prompt"); // headless Chromium fails the navigation its prompt would answer
    expect(wrong?.status()).toBe(401);
    expect(await wrongPage.getByRole("alert").innerText()).toBe("That password is not this relay's admin token.");
    expect(opened?.status()).toBe(200);
    expect(await board.title()).toContain("OpenCI Relay");
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((u) => !u.startsWith(`${h.url}/`))).toEqual([]); // no Google Fonts, no CDN: the board works offline
    expect(api.status()).toBe(401);
    expect(await api.json()).toEqual({ error: expect.stringContaining("OPENCI_ADMIN_TOKEN") });
    await Promise.all([anonymous.close(), mistaken.close(), operator.close()]);
  });

  it("says how to turn the admin views on when the relay has no admin token", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos() });
    const page = await browser().newPage();

    const answer = await page.goto(`${h.url}/admin/queues`);

    expect(answer?.status()).toBe(403);
    expect(await page.locator("h1").innerText()).toBe("The admin views are off");
    expect(await page.locator("main").innerText()).toContain("set OPENCI_ADMIN_TOKEN");
    await page.close();
  });
});
