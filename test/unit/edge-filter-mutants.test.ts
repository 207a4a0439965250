/**
 * Tests written to kill mutants that survived `npm run test:mutation -- edge-filter` (TESTING.md).
 * Every filter string here is used by one test only: compiled filters are cached per process, so a
 * test that reused another's filter would never reach the code under test.
 */
import { describe, expect, it } from "@jest/globals";
import { compileFilter, describeFilter, filterProblem, tagVersion, type TagFilter } from "../../src/map/edge-filter.js";

const glob = (pattern: string): TagFilter => ({ kind: "glob", pattern });
const regex = (pattern: string): TagFilter => ({ kind: "regex", pattern });
const range = (r: string): TagFilter => ({ kind: "semver", range: r });

describe("tag versions", () => {
  it("strips only a leading v: a v inside a prerelease stays", () => {
    expect(tagVersion("1.0.0-v2")?.version).toBe("1.0.0-v2");
    expect(tagVersion("v1.0.0-v2")?.prerelease).toEqual(["v2"]);
  });

  it("reads versions loosely: 1.2.3beta is the prerelease 1.2.3-beta", () => {
    expect(tagVersion("1.2.3beta")?.version).toBe("1.2.3-beta");
    expect(tagVersion("v01.2.3")?.version).toBe("1.2.3");
  });
});

describe("compiled filters", () => {
  it("are compiled once: the same filter gives back the same matcher", () => {
    const first = compileFilter(glob("cache-me-*"));
    expect(compileFilter(glob("cache-me-*"))).toBe(first);
    expect(compileFilter(glob("cache-me-*"), false)).not.toBe(first);
  });

  it("a glob without prereleases still matches tags that are not versions", () => {
    const m = compileFilter(glob("main*"), false);
    expect(m("main")).toBe(true);
    expect(m("main-2")).toBe(true);
    expect(compileFilter(glob("w*"), false)("w1.0.0-rc.1")).toBe(true); // not a version: "w" is no v
    expect(compileFilter(glob("v*"), false)("v1.0.0-rc.1")).toBe(false);
  });

  it("a regex keeps prereleases unless told not to", () => {
    expect(compileFilter(regex("r\\d+\\.\\d+\\.\\d+(-rc\\.\\d+)?"))("r1.0.0-rc.1")).toBe(true);
    const strict = compileFilter(regex("v\\d+\\.\\d+\\.\\d+(-rc\\.\\d+)?"), false);
    expect(strict("v1.0.0-rc.1")).toBe(false);
    expect(strict("v1.0.0")).toBe(true);
    expect(compileFilter(regex("v\\d+\\.\\d+\\.\\d+(-rc\\.\\d+)?"), true)("v1.0.0-rc.1")).toBe(true);
  });

  it("a semver range excludes prereleases by default and includes them when told", () => {
    expect(compileFilter(range("^4.1"))("v4.2.0-rc.1")).toBe(false);
    expect(compileFilter(range("^4.1"))("v4.2.0")).toBe(true);
    expect(compileFilter(range("^4.1"), true)("v4.2.0-rc.1")).toBe(true);
  });

  it("a semver range is read loosely, as tags are", () => {
    const m = compileFilter(range(">=1.2.3beta"), true);
    expect(m("v1.2.4")).toBe(true);
    expect(m("v1.2.2")).toBe(false);
    expect(filterProblem(range(">=1.2.3beta"))).toBeUndefined();
  });
});

describe("filter problems", () => {
  it("a glob the linear matcher refuses gets the glob explanation, not the regex one", () => {
    const problem = filterProblem(glob("v!(*rc*)"));
    expect(problem).toMatch(/^is a glob the relay cannot match in linear time \(uses a lookahead/);
    expect(problem).toMatch(/use \*, \*\*, \?, \[\.\.\.\] and \{a,b\}, or a tag_regex$/);
  });

  it("!( starts an extglob, not a negation", () => {
    // picomatch's negated extglob needs an unbounded lookahead: refused. Read as "not (*)" it would pass.
    expect(filterProblem(glob("!(*)"))).toMatch(/^is a glob the relay cannot match/);
    expect(filterProblem(glob("!nightly-*"))).toBeUndefined();
    expect(compileFilter(glob("!nightly-*"))("nightly-3")).toBe(false);
    expect(compileFilter(glob("!nightly-*"))("v3")).toBe(true);
  });

  it("a regex is checked as a unicode regex first", () => {
    expect(filterProblem(regex("v\\a"))).toMatch(/^is not a valid regular expression \(/);
  });

  it("a refused regex gets the matcher's own explanation", () => {
    expect(filterProblem(regex("(w\\d+)-\\1"))).toMatch(/^uses a backreference \(\\1\)/);
  });

  it("a usable glob, regex or range has no problem", () => {
    expect(filterProblem(glob("release/*"))).toBeUndefined();
    expect(filterProblem(regex("release-\\d+"))).toBeUndefined();
    expect(filterProblem(range("~2.3"))).toBeUndefined();
    expect(filterProblem(range("not a range"))).toBe('is not a valid semver range, e.g. ">=2.0.0 <3" or "^1.4"');
  });
});

describe("describeFilter", () => {
  it("writes each kind as the map spells it", () => {
    expect(describeFilter(glob("v*"))).toBe('tags "v*"');
    expect(describeFilter(regex("v\\d+"))).toBe('tag_regex "v\\d+"');
    expect(describeFilter(range(">=2 <3"))).toBe('semver ">=2 <3"');
  });
});
