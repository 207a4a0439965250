import { describe, expect, it } from "@jest/globals";
import { matchTag } from "../../src/map/match-tag.js";

describe("matchTag", () => {
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
  ])("%s against %s is %s", (pattern, tag, expected) => {
    expect(matchTag(pattern, tag)).toBe(expected);
  });
});
