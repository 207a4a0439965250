import { describe, expect, it } from "@jest/globals";
import { html, safeUrl } from "../../src/web/dashboard/html.js";
import { runLink } from "../../src/web/dashboard/matrix-page.js";

describe("the dashboard's HTML", () => {
  it("escapes every interpolation, in text and in attributes", () => {
    const evil = `"><script>alert(1)</script>'`;

    expect(html`<td title="${evil}">${evil}</td>`.text).toBe('<td title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;</td>');
  });

  it.each([
    ["javascript:alert(document.domain)", undefined],
    ["data:text/html,<script>alert(1)</script>", undefined],
    ["  JAVASCRIPT:alert(1)", undefined],
    ["//evil.example/run", undefined],
    ["https://github.com/o/r/actions/runs/1", "https://github.com/o/r/actions/runs/1"],
  ])("links %s only when it is http(s)", (url, linked) => {
    const cell = runLink({ status: "failed", url, failedJobs: [] }).text;

    expect(safeUrl(url)).toBe(linked);
    expect(cell.includes("href=")).toBe(linked !== undefined);
    expect(cell).not.toMatch(/href="(javascript|data):/i);
  });
});
