/**
 * Text a downstream controls (its id, job names, run ids, error messages that quote it) made inert
 * wherever the relay writes it for others: check run titles and summaries, GitLab commit statuses,
 * the roll-up and the failure comment. The same output is safe both where the forge renders
 * Markdown (summaries, comments) and where it shows plain text (check titles, status descriptions),
 * so nothing here uses backslash escapes or HTML entities: plain text would show them literally.
 * Instead a character that is Markdown or HTML syntax becomes its fullwidth twin (`<` → `＜`), and a
 * sequence that is only live as a whole (`@user`, `#12`, `](`, `&#64;`) gets an invisible WORD
 * JOINER after its first character: GitHub's and GitLab's reference parsers need the name right
 * after `@`/`#`, CommonMark needs `(` right after `]`, and U+2060 is neither a word character nor
 * whitespace, so no renderer treats it as either, and the reader still sees the text as written.
 * (Code spans would not do: plain-text fields would show the backticks, and `|` still splits a
 * table cell inside one.) A ZERO WIDTH JOINER would do the same, but it also glues emoji together.
 */

const WJ = "\u2060";
const ELLIPSIS = "…";

const LINE_BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
/** C0 and C1 controls, and the bidi marks, embeddings, overrides and isolates that can reorder what a reader sees. */
const CONTROLS = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Markdown and HTML syntax characters with no ordinary use in a name, as their fullwidth forms. */
const FULLWIDTH: Record<string, string> = { "<": "＜", ">": "＞", "|": "｜", "`": "｀", "\\": "＼", "*": "＊", $: "＄" };

/** One line of plain text: controls gone, line breaks and runs of spaces one space, no lone surrogate. */
function oneLine(text: string): string {
  return text.replace(LINE_BREAKS, " ").replace(CONTROLS, "").replace(LONE_SURROGATE, "\uFFFD").replace(/\s+/g, " ").trim();
}

/** `evil.example` → `evil[.]example`; a dot already in brackets stays as it is. */
const defangHost = (host: string) => host.replace(/(?<!\[)\.(?!\])/g, "[.]");

/** The rules, on text that is already one clean line. Never shortens it, and a second run changes nothing. */
function defuse(line: string): string {
  return line
    // Any `scheme://host` (GitLab autolinks every scheme, GitHub http, https and ftp) and `www.host`
    // (GitHub autolinks those too), defanged the way security advisories write them.
    .replaceAll("://", "[:]//")
    .replace(/(\[:\]\/\/|www\.)([^\s/?#]*)/gi, (_, prefix: string, host: string) => `${prefix.replace(/\.$/, "[.]")}${defangHost(host)}`)
    .replace(/[<>|`\\*$]/g, (c) => FULLWIDTH[c]!)
    // `__bold__` could pass for the relay's own bold labels; a single `_` stays, as in snake_case.
    .replace(/_{2,}/g, (run) => "＿".repeat(run.length))
    // Mentions (`@user`, `@org/team`, `@all`, and e-mail autolinks `a@b.c`).
    .replace(/@(?=[\p{L}\p{N}\p{M}_.-])/gu, `@${WJ}`)
    // Cross-references that notify an issue or merge request: `#12`, `org/repo#12`, `GH-12`, GitLab `!12` and `&12`.
    .replace(/([#!&]|\bGH-)(?=\d)/gi, `$1${WJ}`)
    // Character references the Markdown renderer would decode into the very characters above (`&#64;`, `&lt;`).
    .replace(/&(?=#?[a-z0-9]+;)/gi, `&${WJ}`)
    // Inline links and images `[x](url)`, reference links `[x][y]`, definitions and footnotes `[x]: url`.
    .replace(/\](?=[([:])/g, `]${WJ}`)
    // Where the text starts a line (a list item, a paragraph): no heading, list, fence, rule or task box.
    .replace(/^(?=[#+=~[-]|\d{1,9}[.)](?: |$))/, WJ);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Downstream text made inert for a forge page (see the top of this file), on one line of at most
 * `max` UTF-16 code units; longer text is cut at a character boundary and ends in "…". Ordinary names
 * (`acme/app`, `kolla-ansible`, `unit (py3.12)`, `v1.2.0`) come out unchanged.
 */
export function neutralise(text: string, max = 200): string {
  const cap = Math.max(1, max);
  const line = oneLine(text);
  const whole = defuse(line);
  if (whole.length <= cap) return whole;
  // Cut the input, not the output, so that a cut never leaves half a rule behind (`@` without its
  // joiner, `evil[.` …): a longest prefix whose defused form with the ellipsis still fits.
  const parts: string[] = [];
  for (const { segment } of graphemes.segment(line)) {
    if (parts.length >= cap) break;
    parts.push(segment);
  }
  const cut = (n: number) => defuse(`${parts.slice(0, n).join("").trimEnd()}${ELLIPSIS}`);
  let [lo, hi] = [0, Math.min(parts.length, cap - 1)];
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (cut(mid).length <= cap) lo = mid;
    else hi = mid - 1;
  }
  return cut(lo);
}

/**
 * The first `maxItems` of a list, each neutralised, and "… and N more" for the rest: a downstream
 * with thousands of failing jobs must not push a comment or summary past the forge's size limit.
 */
export function neutraliseList(items: readonly string[], maxItems = 20, max = 200): string[] {
  const shown = items.slice(0, maxItems).map((item) => neutralise(item, max));
  return items.length > maxItems ? [...shown, `${ELLIPSIS} and ${items.length - maxItems} more`] : shown;
}

/**
 * A URL the relay may show as a link: http or https, no user name or password (a phishing
 * classic: `https://github.com@evil.example/`), and, when `trustedOrigins` is given, on one of
 * those origins (the forges' web URLs). Undefined otherwise.
 */
export function safeUrl(url: string | undefined, trustedOrigins?: readonly string[]): string | undefined {
  if (!url || !URL.canParse(url)) return undefined;
  const u = new URL(url);
  if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
  if (u.username !== "" || u.password !== "") return undefined;
  if (trustedOrigins && !trustedOrigins.some((o) => URL.canParse(o) && new URL(o).origin === u.origin)) return undefined;
  return u.href;
}

/**
 * The only way a link gets into the relay's Markdown: `[label](url)` when `url` passes `safeUrl`,
 * else the label alone. The label is neutralised; in the URL's path, query and fragment, whatever
 * could end the link early or split a table cell is percent-encoded.
 */
export function markdownLink(label: string, url: string | undefined, trustedOrigins?: readonly string[]): string {
  const text = neutralise(label);
  const href = safeUrl(url, trustedOrigins);
  if (href === undefined) return text;
  const { origin } = new URL(href);
  const rest = href.slice(origin.length).replace(/[\s()[\]<>|`\\*_"']/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
  return `[${text.replace(/[[\]]/g, "\\$&")}](${origin}${rest})`;
}

/**
 * Text shown as a fenced code block: line breaks kept, other controls gone, fenced with more
 * backticks than any run inside it, so nothing in it can close the block (inside one, neither forge
 * renders mentions, links or HTML).
 */
export function codeBlock(text: string, info = "", max = 2000): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n").map((l) => l.replace(/\t/g, "  ").replace(CONTROLS, "").replace(LONE_SURROGATE, "\uFFFD"));
  let body = lines.join("\n");
  if (body.length > max) body = `${body.slice(0, max - 1).replace(/[\uD800-\uDBFF]$/, "")}${ELLIPSIS}`;
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${/^[a-z0-9+-]*$/i.test(info) ? info : ""}\n${body}\n${fence}`;
}

/**
 * Relay-written Markdown that quotes downstream text (an error's reason, a hint): its fenced code
 * blocks stay code blocks (`codeBlock`), every other part is neutralised. Misreading downstream
 * text as a fence is harmless: both outcomes are inert.
 */
export function neutraliseProse(text: string, max = 1000): string {
  const parts: string[] = [];
  let at = 0;
  for (const m of text.matchAll(/```([a-z0-9+-]*)\n([\s\S]*?)\n```/gi)) {
    parts.push(neutralise(text.slice(at, m.index), max), codeBlock(m[2]!, m[1]!, max * 2));
    at = m.index + m[0].length;
  }
  parts.push(neutralise(text.slice(at), max));
  return parts.filter((p) => p !== "").join("\n\n");
}
