import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import picomatch from "picomatch";
import { compileFilter, filterProblem, type TagFilter } from "../../src/map/edge-filter.js";
import { parseMap } from "../../src/map/load.js";

const regex = (pattern: string): TagFilter => ({ kind: "regex", pattern });
const glob = (pattern: string): TagFilter => ({ kind: "glob", pattern });
/** The longest tag a payload may carry (src/events: git ref names of at most 255 characters). */
const LONGEST = 255;
/** Per pattern, on a shared two-core machine; V8's own engine takes minutes or never ends on these. */
const BUDGET_MS = 500;

/**
 * The CPU time `f` took, in ms (process.cpuUsage: this process's user + system time): what a pattern
 * costs, not how long other processes held the cores (wall time under `npm run test:stress`'s CPU
 * burners reached 894 ms for a pattern that costs well under the budget).
 */
const timed = (f: () => unknown) => {
  const start = process.cpuUsage();
  f();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
};

describe("tag filters from anyone run in linear time (issue 16, finding 2)", () => {
  it.each([
    ["nested quantifiers", regex("(a+)+$"), "a".repeat(LONGEST - 1) + "!"],
    ["240 wildcards before a missing X", regex(".*".repeat(240) + "X"), "a".repeat(LONGEST)],
    ["overlapping alternatives under a star", regex("(a|ab|abc)*c"), "ab".repeat(127)],
    ["stars inside stars", regex("((a*)*)*b"), "a".repeat(LONGEST)],
    ["counted repetition of a repetition", regex("(a{1,10}){1,20}z"), "a".repeat(LONGEST)],
    ["a glob of many stars (picomatch's RegExp: minutes on 60 characters)", glob("*a".repeat(60) + "*b"), "a".repeat(LONGEST)],
  ])("%s: answered within the budget on a %s", (_, filter, tag) => {
    expect(filterProblem(filter)).toBeUndefined();

    const elapsed = timed(() => expect(compileFilter(filter)(tag)).toBe(false));

    expect(elapsed).toBeLessThan(BUDGET_MS);
  });

  it("grows with the tag, not exponentially: a tag 16 times longer costs about 16 times more", () => {
    const match = compileFilter(regex("(a|aa)+(b|ab)*c"));
    match("a".repeat(64)); // warm up

    const short = timed(() => match("a".repeat(512)));
    const long = timed(() => match("a".repeat(8192)));

    expect(long).toBeLessThan(Math.max(short, 1) * 16 * 8);
  });

  it.each([
    ["(v\\d+)-\\1", /backreference \(\\1\).*repeat the group's pattern instead/],
    ["(?<n>v\\d)-\\k<n>", /backreference \(\\k<name>\)/],
    ["(?<=release/)v\\d+", /lookbehind.*describe the tag from its start instead/],
    ["(?=.{20})v.*", /lookahead that can read more than 8 characters.*describe the whole tag instead/],
    ["a{5000}", /counts to more than 1000 \(\{5000\}\): use \+ or \*/],
    ["((((a{1,1000}){1,1000}){1,1000}))", /counts to more than 1000|too large once its counted repetitions are expanded/],
    ["(a{1,999}){1,999}", /too large once its counted repetitions are expanded \(more than 5000 steps\): use smaller counts, or \+ and \*/],
  ])("refuses %s, saying what to write instead", (pattern, message) => {
    expect(filterProblem(regex(pattern))).toMatch(message);
  });

  it("refuses such a regex in a map, at its line", () => {
    const text = "version: 2\nprojects:\n  - { id: up, foundation: f, github: acme/up }\n  - id: down\n    foundation: f\n    github: acme/down\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: up, tag_regex: '(v\\d+)-\\1' }]\nfoundations: [{ id: f, name: F }]\n";

    expect(() => parseMap(text, "map.yml")).toThrow(/map\.yml:8:\d+: projects\[1\]\.depends_on\[0\]\.tag_regex: uses a backreference/);
  });

  // short tag-like texts; like git tag names, never empty and never ending in '/'
  const tags = fc.stringMatching(/^[a-cv0-9.\-/]{0,11}[a-cv0-9.-]$/);

  it.each([
    "\\d+\\.\\d+\\.\\d+", "v\\d+\\.\\d+(\\.\\d+)?", "stable/(2024|2025)\\.\\d", "v.*", "v(\\d+\\.){2}\\d+",
    "(v|\\d|\\.|[0-9a-z.])+x", "(a+)+", "([a-z]+)*", "(a|ab){2,}", "[^/]+/v[0-9]*", "a{2,3}b?", "\\bv\\d\\b.*", "(?=v)[a-z]\\d*", "(?!v)\\w+", "^v[1-3]$",
  ])("regex %s says what V8's RegExp says on every short tag", (pattern) => {
    const native = new RegExp(`^(?:${pattern})$`, "u");
    const linear = compileFilter(regex(pattern));

    fc.assert(fc.property(tags, (tag) => linear(tag) === native.test(tag)));
  });

  it.each([
    "v*", "*", "**", "release/**", "**/v*", "a/**/b", "v?.*", "simple-*", "v1.*", "*.*", "*-rc*", "stable/*", "[0-9]*", "v{1,2}.*", "{v,V}[0-9]*",
    "!v*", "v[!0-9]*", "{1..3}*", "+(a|b)v", "[[:digit:]]*",
  ])("glob %s says what picomatch says on every short tag", (pattern) => {
    const native = picomatch(pattern, { dot: true });
    const linear = compileFilter(glob(pattern));

    fc.assert(fc.property(tags, (tag) => linear(tag) === native(tag)));
  });

  it("keeps every filter of the example maps working", () => {
    const filters = ["fixtures/maps/cross-community.yml", "fixtures/maps/v1-example.yml", "openci-map.yml"]
      .flatMap((file) => [...readFileSync(file, "utf8").matchAll(/(tags|tag_regex): *("(?:[^"\\]|\\.)*"|'[^']*')/g)])
      .map(([, kind, quoted]) => (kind === "tags" ? glob(quoted!.startsWith("'") ? quoted!.slice(1, -1) : JSON.parse(quoted!) as string) : regex(JSON.parse(quoted!) as string)));

    expect(filters.length).toBeGreaterThan(20);
    expect(filters.map(filterProblem).filter(Boolean)).toEqual([]);
    expect(compileFilter(regex("\\d+\\.\\d+\\.\\d+"))("29.0.0")).toBe(true);
    expect(compileFilter(regex("v\\d+\\.\\d+(\\.\\d+)?"))("v23.11")).toBe(true);
  });
});
