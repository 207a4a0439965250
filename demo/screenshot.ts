import { mkdirSync } from "node:fs";
import { launchChromium } from "../test/helpers/browser.js";
import { startDemo } from "./main.js";

/** `npm run screenshot`: plays the demo and saves the dashboard's pages under docs/ (the README shows them). */
const demo = await startDemo({ port: 0, pace: 250, quiet: true });
await demo.played;
mkdirSync("docs", { recursive: true });
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
for (const [path, file] of [["/", "docs/dashboard.png"], ["/projects/kubernetes", "docs/project-graph.png"], ["/releases/kubernetes/v1.31.0", "docs/release.png"]] as const) {
  await page.goto(`${demo.url}${path}`);
  await page.locator("#live", { hasText: /^live$/ }).waitFor();
  await page.screenshot({ path: file, fullPage: true });
  process.stdout.write(`${file}\n`);
}
await browser.close();
await demo.stop();
