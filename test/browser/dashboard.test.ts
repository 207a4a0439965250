import { describe, expect, it } from "@jest/globals";
import { useChromium } from "../helpers/browser.js";
import { hellosDependantsMap, hellosDependantsRepos } from "../helpers/history.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { useHarness } from "../helpers/scenario.js";

const ADMIN = "admin-token-0123456789";
const startHarness = useHarness();
const browser = useChromium();

describe("the dashboard in a real browser", () => {
  it("shows the matrix, brings a downstream failure in live without a reload, and links cells to the runs", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    await h.send("create.tag");
    const octoRun = runIdOf(await runningCheck(h, "openci: octo"));
    const acmeRun = runIdOf(await runningCheck(h, "openci: acme/app"));
    const page = await browser().newPage();

    await page.goto(`${h.url}/`);
    await page.locator('td[data-downstream="octo"][data-status="queued"]').waitFor();
    await page.locator("#live", { hasText: /^live$/ }).waitFor();
    await page.evaluate("window.notReloaded = true");
    h.github.runJobs[octoRun] = [{ name: "unit tests", conclusion: "failure" }];
    await sendRun(h, { id: octoRun, conclusion: "failure" });
    await sendRun(h, { id: acmeRun, repo: "acme/app", conclusion: "success" });
    const failed = page.locator('td[data-downstream="octo"][data-status="failed"]');
    await failed.waitFor({ timeout: 10_000 });
    await page.locator('td[data-downstream="acme/app"][data-status="passed"]').waitFor({ timeout: 10_000 });

    expect(await page.evaluate("window.notReloaded")).toBe(true);
    expect(await failed.locator("a").getAttribute("href")).toBe(`https://github.com/octo-org/octo-repo/actions/runs/${octoRun}`);
    expect(await failed.locator("a").getAttribute("title")).toBe("failing: unit tests");
    expect(await failed.innerText()).toContain("failed");
    expect(await page.locator('th[scope="col"] a').first().innerText()).toContain("simple-tag");
    expect(await page.locator("th.group").allInnerTexts()).toEqual(["LINUX FOUNDATION"]);

    await page.locator('th[scope="col"] a').first().click();
    await page.waitForURL(`${h.url}/releases/hello/simple-tag`);
    expect(await page.locator(".rollup").innerText()).toBe("1 of 2 downstreams passed.");
    expect(await page.locator('tr[data-downstream="octo"]').innerText()).toContain("unit tests");
    await page.close();
  });

  it("keeps the operators' views behind the admin token, and opens them with it", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos(), env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    const anonymous = await browser().newContext();
    const operator = await browser().newContext({ httpCredentials: { username: "ops", password: ADMIN } });

    // Signing in, a browser shows its login prompt (headless Chromium fails the navigation); the answer is what counts.
    // (A first visit without credentials gets the sign-in page: test/browser/admin-sign-in.test.ts.)
    const refused = await anonymous.request.get(`${h.url}/admin/queues`);
    const wrong = await anonymous.request.get(`${h.url}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from("ops:not-the-token-at-all").toString("base64")}` } });
    const navigation = await (await anonymous.newPage()).goto(`${h.url}/admin/queues?sign-in`).then(() => "opened", (e: Error) => e.message);
    const board = await operator.newPage();
    const opened = await board.goto(`${h.url}/admin/queues?sign-in`);
    await board.getByText("trigger", { exact: true }).first().waitFor({ timeout: 15_000 });
    const rerun = await anonymous.request.post(`${h.url}/admin/reruns`, { form: { upstream: "hello", sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", downstream: "octo" } });

    expect(refused.status()).toBe(401);
    expect(refused.headers()["www-authenticate"]).toContain("Basic");
    expect(wrong.status()).toBe(401);
    expect(navigation).toContain("ERR_INVALID_AUTH_CREDENTIALS");
    expect(opened?.status()).toBe(200);
    expect(await board.title()).toContain("OpenCI Relay");
    expect(rerun.status()).toBe(401);
    await anonymous.close();
    await operator.close();
  });

  it("reads well on a phone: the matrix scrolls inside its box, the page does not", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos() });
    await h.send("create.tag");
    await runningCheck(h, "openci: octo");
    const phone = await browser().newPage({ viewport: { width: 360, height: 740 } });

    await phone.goto(`${h.url}/`);
    await phone.locator('td[data-downstream="octo"]').waitFor();
    const widths = (await phone.evaluate("({ page: document.documentElement.scrollWidth, view: window.innerWidth })")) as { page: number; view: number };
    const labelled = await phone.evaluate('[...document.querySelectorAll("select")].every((s) => s.closest("label") !== null)');

    expect(widths.page).toBeLessThanOrEqual(widths.view);
    expect(labelled).toBe(true);
    await phone.close();
  });
});
