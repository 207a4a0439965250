import picomatch from "picomatch";
import semver from "semver";

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
  // Maps repeat a handful of filters across thousands of edges: compile each once.
  const key = `${filter.kind}\u0000${filter.kind === "semver" ? filter.range : filter.pattern}\u0000${prereleases}`;
  let matcher = compiled.get(key);
  if (matcher === undefined) {
    matcher = compile(filter, prereleases);
    compiled.set(key, matcher);
  }
  return matcher;
}

const compiled = new Map<string, TagMatcher>();
const problems = new Map<string, string | undefined>();

function compile(filter: TagFilter, prereleases: boolean | undefined): TagMatcher {
  switch (filter.kind) {
    case "glob": {
      const glob = picomatch(filter.pattern, { dot: true });
      return prereleases === false ? (tag) => glob(tag) && !isPrerelease(tag) : glob;
    }
    case "regex": {
      const re = new RegExp(`^(?:${filter.pattern})$`, "u");
      return prereleases === false ? (tag) => re.test(tag) && !isPrerelease(tag) : (tag) => re.test(tag);
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
  const key = `${filter.kind}\u0000${filter.kind === "semver" ? filter.range : filter.pattern}`;
  if (!problems.has(key)) problems.set(key, problemOf(filter));
  return problems.get(key);
}

function problemOf(filter: TagFilter): string | undefined {
  switch (filter.kind) {
    case "glob":
      return undefined;
    case "regex":
      try {
        new RegExp(filter.pattern, "u");
      } catch (error) {
        return `is not a valid regular expression (${(error as Error).message})`;
      }
      return repeatsAmbiguousGroup(filter.pattern)
        ? "repeats a group that itself repeats or has alternatives, which can take exponential time on a long tag; use a character class, a glob or a semver range"
        : undefined;
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

/**
 * Whether a regex repeats (`*`, `+`, `{n,}`, `{n,m}`) a group that contains a repetition or an
 * alternation: the shapes that backtrack catastrophically (`(a+)+`, `(a|ab)*`). JavaScript has no
 * linear-time engine, and any map or declaration may carry a tag_regex, so such shapes are refused.
 */
export function repeatsAmbiguousGroup(pattern: string): boolean {
  const groups: { risky: boolean }[] = [];
  const quantifierAt = (i: number) => {
    const c = pattern[i];
    if (c === "*" || c === "+") return true;
    if (c !== "{") return false;
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    return m !== null && m[2] !== undefined && (m[3] === "" || Number(m[3]) > 1);
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
    } else if (c === "[") {
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
    } else if (c === "(") {
      groups.push({ risky: false });
    } else if (c === ")") {
      const inner = groups.pop();
      const repeated = quantifierAt(i + 1);
      if (inner?.risky && repeated) return true;
      if (groups.length > 0 && (inner?.risky || repeated)) groups[groups.length - 1]!.risky = true;
    } else if (c === "|" || quantifierAt(i)) {
      if (groups.length > 0) groups[groups.length - 1]!.risky = true;
    }
  }
  return false;
}
