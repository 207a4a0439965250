import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import type { Project } from "../../src/map/graph.js";
import type { UpstreamRef } from "../../src/queue/job-data.js";
import { runReport } from "../../src/report/check-text.js";
import { failureComment } from "../../src/report/comment-text.js";
import { codeBlock, markdownLink, neutralise, neutraliseList, neutraliseProse, safeUrl } from "../../src/report/neutralise.js";
import { rollupReport } from "../../src/report/rollup.js";

const WJ = "\u2060";
const ISSUE_JOB = "@acme/maintainers see [details](http://evil.example/)";
const ISSUE_TITLE = "<img src=x onerror=alert(1)>";

/** Everything the relay promises about a neutralised field, as one list of broken promises (empty when inert). */
function liveConstructs(text: string): string[] {
  const found: [string, boolean][] = [
    ["a mention", /@[\p{L}\p{N}_]/u.test(text)],
    ["an inline link or image", text.includes("](")],
    ["a reference link or definition", /\](?=[[:])/.test(text)],
    ["HTML", /[<>]/.test(text)],
    ["a character reference", /&#?[a-z0-9]+;/i.test(text)],
    ["an autolinked URL", /:\/\/|www\./i.test(text)],
    ["an issue reference", /(?:#|!|\bGH-)\d/i.test(text)],
    ["a control or bidi character", /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/.test(text)],
    ["a table separator", text.includes("|")],
    ["a code span", text.includes("`")],
    ["bold", /\*\*|__/.test(text)],
    ["a lone surrogate", /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)],
  ];
  return found.filter(([, live]) => live).map(([what]) => what);
}

describe("neutralise", () => {
  it.each([
    "acme/app", "kolla-ansible", "unit (py3.12)", "v1.2.0", "unit tests", "openci_upstream", "build & test", "R&D",
    "e2e [chrome]", "test (ubuntu-latest, 3.12)", "group/sub/project", "Lint: eslint", "build.linux", "ci.yml", "2s",
    `trigger-${"a".repeat(32)}`, "ジョブ 1", "smoke 👩‍👩‍👧",
  ])("leaves the ordinary name %j unchanged", (name) => {
    expect(neutralise(name)).toBe(name);
  });

  it("defuses the issue's job name: no team ping, no link", () => {
    const out = neutralise(ISSUE_JOB);

    expect(out).toBe(`@${WJ}acme/maintainers see [details]${WJ}(http[:]//evil[.]example/)`);
    expect(liveConstructs(out)).toEqual([]);
  });

  it("writes the issue's run title as text, not HTML", () => {
    expect(neutralise(ISSUE_TITLE)).toBe("＜img src=x onerror=alert(1)＞");
  });

  it.each([
    ["a user", "cc @octocat", `cc @${WJ}octocat`],
    ["everyone (GitLab)", "@all @here", `@${WJ}all @${WJ}here`],
    ["an e-mail autolink", "ops@evil.example", `ops@${WJ}evil.example`],
    ["a mention spelt as a character reference", "&#64;acme", `&#${WJ}64;acme`],
    ["a hexadecimal character reference", "&#x40;acme", `&${WJ}#x40;acme`],
    ["an image", "![x](https://evil.example/p.png)", `![x]${WJ}(https[:]//evil[.]example/p.png)`],
    ["a reference link", "[x][1]", `${WJ}[x]${WJ}[1]`],
    ["a link definition", "[1]: http://evil.example", `${WJ}[1]${WJ}: http[:]//evil[.]example`],
    ["an HTML link", '<a href="http://evil.example">x</a>', '＜a href="http[:]//evil[.]example"＞x＜/a＞'],
    ["an autolink", "<https://evil.example>", "＜https[:]//evil[.]example＞"],
    ["a bare URL", "see https://evil.example/x?y=1", "see https[:]//evil[.]example/x?y=1"],
    ["any scheme GitLab links", "ssh://evil.example", "ssh[:]//evil[.]example"],
    ["a www address", "WWW.evil.example and xwww.evil", "WWW[.]evil[.]example and xwww[.]evil"],
    ["entities", "&lt;b&gt;", `&${WJ}lt;b&${WJ}gt;`],
    ["issue and merge request references", "fixes #12, GH-7 and !3", `fixes #${WJ}12, GH-${WJ}7 and !${WJ}3`],
    ["a heading", "### OpenCI: all pass", `${WJ}### OpenCI: all pass`],
    ["a list item", "- [x] approved", `${WJ}- [x] approved`],
    ["an ordered list", "1. lint", `${WJ}1. lint`],
    ["a table row", "x | passed | [run](https://github.com/a/b)", `x ｜ passed ｜ [run]${WJ}(https[:]//github[.]com/a/b)`],
    ["bold that mimics the relay's labels", "**How to fix:** __now__", "＊＊How to fix:＊＊ ＿＿now＿＿"],
    ["a code span", "`x`", "｀x｀"],
    ["math", "$\\Huge{ok}$", "＄＼Huge{ok}＄"],
    ["line breaks", "one\r\ntwo\n\n# three", "one two # three"],
    ["C0, DEL and C1 controls", "a\u0000b\u0007c\u001bd\u007fe\u009bf", "abcdef"],
    ["bidi overrides and isolates", "abc\u202Efed\u2066x\u2069\u200F", "abcfedx"],
  ])("defuses %s", (_, input, expected) => {
    expect(neutralise(input)).toBe(expected);
  });

  it("caps a field at 200 characters by default, ending in an ellipsis", () => {
    const out = neutralise("x".repeat(500));

    expect(out).toHaveLength(200);
    expect(out.endsWith("x…")).toBe(true);
  });

  it("takes its cap as a parameter and never leaves half a rule at the cut", () => {
    expect(neutralise("abcdef", 4)).toBe("abc…");
    expect(neutralise("aaaa @team", 7)).toBe("aaaa @…");
    expect(neutralise("go to evil.example://x", 16)).toBe("go to evil.exam…");
  });

  it("cuts between characters, never inside one", () => {
    const out = neutralise("👩‍👩‍👧".repeat(50), 20);

    expect(out.length).toBeLessThanOrEqual(20);
    expect(out).toBe(`${"👩‍👩‍👧".repeat(2)}…`);
  });

  it("lists at most so many items, then says how many more", () => {
    const jobs = Array.from({ length: 25 }, (_, i) => `@job${i}`);

    const out = neutraliseList(jobs);

    expect(out).toHaveLength(21);
    expect(out[0]).toBe(`@${WJ}job0`);
    expect(out[20]).toBe("… and 5 more");
  });
});

describe("links the relay builds", () => {
  const run = "https://github.com/acme/app/actions/runs/1";

  it("links a forge URL", () => {
    expect(markdownLink("run 1", run)).toBe(`[run 1](${run})`);
    expect(safeUrl(run)).toBe(run);
  });

  it.each([
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/html,<b>x</b>"],
    ["another scheme", "ftp://github.com/x"],
    ["credentials in the URL", "https://github.com@evil.example/"],
    ["a password", "https://u:p@github.com/"],
    ["no URL at all", "not a url"],
    ["an empty URL", ""],
  ])("shows only the label for %s", (_, url) => {
    expect(markdownLink("run", url)).toBe("run");
    expect(safeUrl(url)).toBeUndefined();
  });

  it("links only to the origins the caller trusts, when it names them", () => {
    expect(markdownLink("run", "https://evil.example/runs/1", ["https://github.com"])).toBe("run");
    expect(markdownLink("run", run, ["https://gitlab.example", "https://github.com/"])).toBe(`[run](${run})`);
  });

  it("keeps the link whole: no early end, no split table cell, no label break-out", () => {
    const out = markdownLink("run ]1[", "https://github.com/a)b|c`d");

    expect(out).toBe("[run \\]1\\[](https://github.com/a%29b%7Cc%60d)");
  });

  it("neutralises the label", () => {
    expect(markdownLink("@all <b>", run)).toBe(`[@${WJ}all ＜b＞](${run})`);
  });
});

describe("code blocks and prose", () => {
  it("fences code with more backticks than it holds, so nothing inside can close it", () => {
    expect(codeBlock("a\n```\n@team ````x", "yaml")).toBe("`````yaml\na\n```\n@team ````x\n`````");
  });

  it("strips controls from code but keeps its lines and indentation", () => {
    expect(codeBlock("x:\r\n  y\u202E: 1\u0007", "yaml")).toBe("```yaml\nx:\n  y: 1\n```");
  });

  it("refuses an info string that could carry anything", () => {
    expect(codeBlock("x", "yaml onerror=1")).toBe("```\nx\n```");
  });

  it("keeps a hint's code block and neutralises the prose around it", () => {
    const hint = "Declare the inputs in @x/ci.yml:\n\n```yaml\nworkflow_dispatch:\n  inputs:\n```\n\nthen see http://evil.example";

    expect(neutraliseProse(hint)).toBe(`Declare the inputs in @${WJ}x/ci.yml:\n\n\`\`\`yaml\nworkflow_dispatch:\n  inputs:\n\`\`\`\n\nthen see http[:]//evil[.]example`);
  });
});

describe("neutralise, for any text", () => {
  const hostile = fc.array(fc.constantFrom(
    "@", "acme", "/", "[", "]", "(", ")", "!", "<", ">", "http", "s", "://", ":", "//", "www", ".", "&", "#", "64", ";", "lt",
    "`", "|", "\n", "\r", "\u202E", "\u2066", "\u0000", "\u0085", "*", "_", "all", " ", "evil", "example", "GH-", "1", "\\", "$", "-", WJ, "…", "\uD800",
  ), { maxLength: 40 }).map((parts) => parts.join(""));
  const anyText = fc.oneof(hostile, fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme-composite" }));
  const cap = fc.integer({ min: 1, max: 250 });

  it("leaves nothing live, within the cap", () => {
    fc.assert(fc.property(anyText, cap, (text, max) => {
      const out = neutralise(text, max);

      expect(liveConstructs(out)).toEqual([]);
      expect(out.length).toBeLessThanOrEqual(max);
    }), { numRuns: 2000 });
  });

  it("changes nothing when run again", () => {
    fc.assert(fc.property(anyText, cap, (text, max) => {
      const once = neutralise(text, max);

      expect(neutralise(once, max)).toBe(once);
      expect(neutralise(once)).toBe(once);
    }), { numRuns: 2000 });
  });

  it("links only http(s) URLs without credentials, and only as one whole link", () => {
    fc.assert(fc.property(fc.string(), fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()), (label, url) => {
      const out = markdownLink(label, url);

      if (out === neutralise(label)) return;
      expect(out).toMatch(/^\[(?:[^[\]\\]|\\[[\]])*\]\(https?:\/\/[^\s()|<>`]*\)$/);
    }), { numRuns: 1000 });
  });
});

describe("what an upstream sees of a hostile downstream", () => {
  const up: UpstreamRef = { projectId: "hello", forge: "github", repo: "octo-org/hello", installationId: 1, tag: "v1.2.0", sha: "a".repeat(40) };
  const project: Project = {
    id: `${ISSUE_JOB} ${ISSUE_TITLE}`, location: { forge: "github", repo: "acme/app" }, trigger: { workflow: "ci.yml" }, report: undefined,
  };
  const report = runReport(up, project, `trigger-${"b".repeat(32)}`, {
    state: "completed", conclusion: "failure", webUrl: "https://github.com/acme/app/actions/runs/7", runId: ISSUE_TITLE,
    failedJobs: [ISSUE_JOB, ISSUE_TITLE, "unit (py3.12)"],
  });
  const scripted = runReport(up, { ...project, id: "acme/other" }, `trigger-${"c".repeat(32)}`, {
    state: "completed", conclusion: "failure", webUrl: "javascript:alert(1)", runId: "8", failedJobs: ["@all"],
  });
  const comment = failureComment({ forge: "github", repo: up.repo, sha: up.sha, installationId: 1 }, [report, scripted], false)!;
  const rollup = rollupReport([report, scripted]);
  /** Every Markdown link target in a text. */
  const links = (text: string) => [...text.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1]);
  /** The comment without its hidden marker, the one piece of HTML the relay writes itself. */
  const body = comment.split("\n").slice(1).join("\n");

  it.each([
    ["check title", report.title],
    ["check summary", report.summary],
    ["failure comment", body],
    ["roll-up summary", rollup.summary],
  ])("the %s has no live mention, no link to evil.example and no HTML", (_, text) => {
    expect(text).not.toMatch(/@[\p{L}\p{N}_]/u);
    expect(text).not.toContain("evil.example");
    expect(text).not.toMatch(/[<>]/);
    expect(links(text).every((url) => url === "https://github.com/acme/app/actions/runs/7")).toBe(true);
  });

  it("still names ordinary jobs as they are, and links the run the forge reported", () => {
    expect(report.summary).toContain("- unit (py3.12)");
    expect(report.summary).toContain("[run ＜img src=x onerror=alert(1)＞](https://github.com/acme/app/actions/runs/7)");
    expect(body).toContain("| acme/other | failed | – | @\u2060all |");
    expect(report.detailsUrl).toBe("https://github.com/acme/app/actions/runs/7");
    expect(scripted.detailsUrl).toBeUndefined();
  });
});
