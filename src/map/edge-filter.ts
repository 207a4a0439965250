import picomatch from "picomatch";
import semver from "semver";
import { RegexRefused, compileLinear, type LinearMatcher } from "./linear-regex.js";

/** How an edge chooses the upstream tags it reacts to. */
export type TagFilter =
  | { kind: "glob"; pattern: string }
  | { kind: "regex"; pattern: string }
  | { kind: "semver"; range: string };

export type TagMatcher = (tag: string) => boolean;

/** The semver version a tag names ("v1.2.3" and "1.2.3" alike), or null. */
export function tagVersion(tag: string): semver.SemVer | null {
  return semver.parse(tag.replace(/^v(?=\d)/, ""), { loose: true });
}

const isPrerelease = (tag: string) => (tagVersion(tag)?.prerelease.length ?? 0) > 0;

/**
 * Compiles a filter once. Globs match the whole tag (`**` crosses '/', dots are ordinary
 * characters); regexes must match the whole tag; semver ranges match tags that are versions.
 * `prereleases` (default: yes for globs and regexes, no for semver) decides whether 1.2.0-rc.1 counts.
 */
export function compileFilter(filter: TagFilter, prereleases?: boolean): TagMatcher {
  // Maps repeat a handful of filters across thousands of edges: compile each once. Looked up by
  // kind, text and prereleases in turn (no key string built per edge).
  const byText = compiled[filter.kind];
  const text = filter.kind === "semver" ? filter.range : filter.pattern;
  let matchers = byText.get(text);
  if (matchers === undefined) byText.set(text, (matchers = [undefined, undefined, undefined]));
  const slot = prereleases === undefined ? 0 : prereleases ? 1 : 2;
  let matcher = matchers[slot];
  if (matcher === undefined) {
    matcher = compile(filter, prereleases);
    matchers[slot] = matcher;
  }
  return matcher;
}

/** Compiled matchers by kind and text: for prereleases undefined, true and false. */
const compiled: Record<TagFilter["kind"], Map<string, (TagMatcher | undefined)[]>> = { glob: new Map(), regex: new Map(), semver: new Map() };
const problems: Record<TagFilter["kind"], Map<string, string | undefined>> = { glob: new Map(), regex: new Map(), semver: new Map() };

function compile(filter: TagFilter, prereleases: boolean | undefined): TagMatcher {
  switch (filter.kind) {
    case "glob": {
      const glob = linearGlob(filter.pattern);
      return prereleases === false ? (tag) => glob(tag) && !isPrerelease(tag) : glob;
    }
    case "regex": {
      const re = compileLinear(filter.pattern);
      return prereleases === false ? (tag) => re(tag) && !isPrerelease(tag) : re;
    }
    case "semver": {
      const range = new semver.Range(filter.range, { loose: true, includePrerelease: prereleases === true });
      return (tag) => {
        const version = tagVersion(tag);
        return version !== null && range.test(version);
      };
    }
  }
}

/** Why a filter cannot be compiled, or undefined when it can. */
export function filterProblem(filter: TagFilter): string | undefined {
  const byText = problems[filter.kind];
  const text = filter.kind === "semver" ? filter.range : filter.pattern;
  if (!byText.has(text)) byText.set(text, problemOf(filter));
  return byText.get(text);
}

function problemOf(filter: TagFilter): string | undefined {
  switch (filter.kind) {
    case "glob":
      return refusal(() => linearGlob(filter.pattern), "glob");
    case "regex":
      try {
        new RegExp(filter.pattern, "u");
      } catch (error) {
        return `is not a valid regular expression (${(error as Error).message})`;
      }
      return refusal(() => compileLinear(filter.pattern), "regex");
    case "semver":
      return semver.validRange(filter.range, { loose: true }) === null ? "is not a valid semver range, e.g. \">=2.0.0 <3\" or \"^1.4\"" : undefined;
  }
}

/** The filter as written, for explanations: `tags "v*"`, `tag_regex "…"`, `semver ">=2 <3"`. */
export function describeFilter(filter: TagFilter): string {
  switch (filter.kind) {
    case "glob":
      return `tags "${filter.pattern}"`;
    case "regex":
      return `tag_regex "${filter.pattern}"`;
    case "semver":
      return `semver "${filter.range}"`;
  }
}

function refusal(compile: () => unknown, kind: "glob" | "regex"): string | undefined {
  try {
    compile();
    return undefined;
  } catch (error) {
    if (kind === "regex" && error instanceof RegexRefused) return error.message;
    if (kind === "regex") throw error;
    return `is a glob the relay cannot match in linear time (${(error as Error).message}); use *, **, ?, [...] and {a,b}, or a tag_regex`;
  }
}

/**
 * A glob with picomatch's meaning (dot: true), run by the linear-time matcher: picomatch's own
 * RegExp backtracks (`*a*a*a*a*a*a*a*a*b` takes minutes on 60 characters). A leading `!` negates.
 */
function linearGlob(pattern: string): LinearMatcher {
  if (pattern.startsWith("!") && !pattern.startsWith("!(")) {
    const inner = linearGlob(pattern.slice(1));
    return (tag) => !inner(tag);
  }
  return compileLinear(picomatch.makeRe(pattern, { dot: true }).source);
}
