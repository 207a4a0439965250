import { describe, expect, it } from "@jest/globals";
import { compileFilter, filterProblem, type TagFilter } from "../../src/map/edge-filter.js";

const glob = (pattern: string): TagFilter => ({ kind: "glob", pattern });
const regex = (pattern: string): TagFilter => ({ kind: "regex", pattern });
const range = (r: string): TagFilter => ({ kind: "semver", range: r });

describe("tag filters", () => {
  it.each([
    ["v*", "v1.2.0", true],
    ["v*", "1.2.0", false],
    ["v*", "release/v1", false],
    ["*", "anything.at.all", true],
    ["release/**", "release/2024/1", true],
    ["v1.*", "v1.5", true],
    ["v1.*", "v10.0", false],
    ["{v,V}[0-9]*", "V2", true],
    [".hidden*", ".hidden-tag", true],
  ])("glob %s against %s is %s", (pattern, tag, expected) => {
    expect(compileFilter(glob(pattern))(tag)).toBe(expected);
  });

  it.each([
    ["\\d+\\.\\d+\\.\\d+", "29.0.0", true],
    ["\\d+\\.\\d+\\.\\d+", "29.0.0.0rc1", false], // the whole tag must match
    ["stable/(2024|2025)\\.\\d", "stable/2025.1", true],
    ["v\\d+", "xv12", false],
  ])("regex %s against %s is %s", (pattern, tag, expected) => {
    expect(compileFilter(regex(pattern))(tag)).toBe(expected);
  });

  it.each([
    [">=2.0.0 <3", "v2.4.1", true],
    [">=2.0.0 <3", "2.4.1", true],
    [">=2.0.0 <3", "v3.0.0", false],
    [">=2.0.0 <3", "v2.5.0-rc.1", false], // prereleases excluded by default
    ["^1.4", "v1.9.0", true],
    ["^1.4", "stable/2024.1", false], // not a version
  ])("semver %s against %s is %s", (r, tag, expected) => {
    expect(compileFilter(range(r))(tag)).toBe(expected);
  });

  it("counts prereleases only when asked, for every kind of filter", () => {
    expect(compileFilter(range(">=2.0.0 <3"), true)("v2.5.0-rc.1")).toBe(true);
    expect(compileFilter(glob("v*"))("v2.5.0-rc.1")).toBe(true);
    expect(compileFilter(glob("v*"), false)("v2.5.0-rc.1")).toBe(false);
    expect(compileFilter(glob("v*"), false)("v2.5.0")).toBe(true);
    expect(compileFilter(regex("v.*"), false)("v1.0.0-beta.2")).toBe(false);
  });

  it("says why a regex or range cannot be used", () => {
    expect(filterProblem(regex("v(1"))).toMatch(/^is not a valid regular expression/);
    expect(filterProblem(range("two point oh"))).toMatch(/^is not a valid semver range/);
    expect(filterProblem(range(">=2 <3"))).toBeUndefined();
  });

  it.each([
    ["(v|\\d|\\.|[0-9a-z.])+x", "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", false],
    ["(a+)+", "aaaa", true],
    ["([a-z]+)*", "abc", true],
    ["(a|ab){2,}", "abab", true],
    ["v\\d+\\.\\d+(\\.\\d+)?", "v1.2", true],
    ["v(\\d+\\.){2}\\d+", "v1.2.3", true],
  ])("takes a regex V8 would backtrack on, matched in linear time instead: %s against %s is %s", (pattern, tag, expected) => {
    expect(filterProblem(regex(pattern))).toBeUndefined();

    expect(compileFilter(regex(pattern))(tag)).toBe(expected);
  });
});
