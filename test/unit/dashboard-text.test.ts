import { describe, expect, it } from "@jest/globals";
import { adminSignInPage, wantsHtml, withoutExternalFonts } from "../../src/web/admin.js";
import { count } from "../../src/web/dashboard/html.js";
import { nowPage, timeWithZone } from "../../src/web/dashboard/now-page.js";
import { playedLine } from "../../demo/main.js";
import type { ReleaseColumn } from "../../src/web/dashboard/data.js";
import type { IncomingMessage } from "node:http";

const column = (status: string, gate?: string): ReleaseColumn => ({
  cid: "bafy-release",
  release: { kind: "release", project: "kubernetes", tag: "v1.31.0", sha: "a".repeat(40), at: "2026-12-07T09:59:00.000Z" },
  downstreams: [{ project: "cri-o", run: "r1", attempt: 0, status, conclusion: undefined, url: undefined, failedJobs: [], artifacts: [], updatedAt: "2026-12-07T10:00:03.120Z", attempts: [], ...(gate ? { gate } : {}) }],
} as unknown as ReleaseColumn);

describe("words and times on the dashboard", () => {
  it.each([
    [0, "dependant", "0 dependants"], [1, "dependant", "1 dependant"], [2, "dependant", "2 dependants"], [1, "foundation", "1 foundation"],
  ])("count(%i, %s) is %s", (n, noun, text) => {
    expect(count(n, noun)).toBe(text);
  });

  it("says /now's times with their zone, and the date when it is not today's", () => {
    expect(timeWithZone("2026-12-07T10:00:03.120Z", new Date("2026-12-07T23:00:00Z")).text).toBe('<time datetime="2026-12-07T10:00:03.120Z" title="2026-12-07T10:00:03.120Z">10:00:03 UTC</time>');
    expect(timeWithZone("2026-12-06T10:00:03.120Z", new Date("2026-12-07T01:00:00Z")).text).toContain(">2026-12-06 10:00:03 UTC</time>");
  });

  it("fills /now's Detail column where a section has one, and leaves it out where it has none", () => {
    const running = nowPage([column("in_progress")], { toTrigger: 0, queued: 0, exact: true }).main.text;
    const gated = nowPage([column("gated", "build")], { toTrigger: 0, queued: 0, exact: true }).main.text;

    expect(running).toContain("UTC</time>");
    expect(running).not.toContain(">Detail</th>");
    expect(running).not.toMatch(/<td><\/td>/);
    expect(gated).toContain(">Detail</th>");
    expect(gated).toContain("after <code>build</code> succeeds");
  });
});

describe("the admin views' answers to browsers", () => {
  const req = (accept: string | undefined) => ({ headers: accept === undefined ? {} : { accept } }) as unknown as IncomingMessage;

  it("gives a page to a browser and JSON to everyone else", () => {
    expect(wantsHtml(req("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))).toBe(true);
    expect(wantsHtml(req("application/json, text/plain, */*"))).toBe(false);
    expect(wantsHtml(req("*/*"))).toBe(false);
    expect(wantsHtml(req(undefined))).toBe(false);
  });

  it("says how to sign in (demo included), or how to turn the views on", () => {
    expect(adminSignInPage("signed-out")).toMatchObject({ status: 401, text: expect.stringContaining('href="/admin/queues?sign-in"') });
    expect(adminSignInPage("signed-out").text).toContain("It printed the token when it started");
    expect(adminSignInPage("wrong-token").text).toContain('role="alert"');
    expect(adminSignInPage("no-token")).toMatchObject({ status: 403, text: expect.stringContaining("set <code>OPENCI_ADMIN_TOKEN</code>") });
  });

  it("strips external fonts from the board's page and nothing else", () => {
    const page = '<head>\n    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans&display=swap" rel="stylesheet">\n<link href="static/css/main.css" rel="stylesheet"></head>';

    expect(withoutExternalFonts(page)).toBe('<head>\n    <link href="static/css/main.css" rel="stylesheet"></head>');
  });
});

describe("the demo's last line", () => {
  it("claims the relay keeps running only when it does", () => {
    expect(playedLine("http://localhost:3000", false)).toContain("the relay keeps running at http://localhost:3000/");
    expect(playedLine("http://localhost:3000", true)).not.toContain("keeps running");
    expect(playedLine("http://localhost:3000", true)).toContain("DEMO_EXIT=1");
  });
});
