import { describe, expect, it } from "@jest/globals";
import { normaliseGithubVisibility } from "../../src/events/github-visibility.js";
import { githubFixture, type GithubFixture } from "../helpers/fixtures.js";

const delivery = (fixture: GithubFixture, edit: (p: any) => void = () => {}) => {
  const payload = githubFixture(fixture);
  edit(payload);
  return { id: "d", name: fixture.split(".")[0]!, payload };
};

describe("what a GitHub delivery says of visibility", () => {
  it("trusts repository.privatized's action over its stale visibility field", () => {
    const privatized = delivery("repository.privatized", (p) => (p.repository.visibility = "public"));

    expect(normaliseGithubVisibility(privatized)).toEqual([{ repo: "Codertocat/Hello-World", visibility: "private", source: "event" }]);
    expect(normaliseGithubVisibility(delivery("repository.publicized"))).toEqual([{ repo: "Codertocat/Hello-World", visibility: "public", source: "event" }]);
  });

  it.each([
    ["a public repository", false, undefined, "public"],
    ["a private one", true, undefined, "private"],
    ["an internal one (an enterprise's members only)", false, "internal", "private"],
  ] as const)("reads every payload's repository: %s", (_what, isPrivate, visibility, expected) => {
    const tag = delivery("create.tag", (p) => {
      p.repository.private = isPrivate;
      if (visibility) p.repository.visibility = visibility;
    });

    expect(normaliseGithubVisibility(tag)).toEqual([{ repo: "Codertocat/Hello-World", visibility: expected, source: "payload" }]);
  });

  it("reads the repositories an installation covers", () => {
    const installed = delivery("installation.created", (p) => {
      p.repositories = [{ ...p.repositories[0], full_name: "acme/open", private: false }, { ...p.repositories[0], full_name: "acme/closed", private: true }];
    });

    expect(normaliseGithubVisibility(installed).map((v) => [v.repo, v.visibility])).toEqual([["acme/open", "public"], ["acme/closed", "private"]]);
  });

  it("says nothing when the payload does not say it", () => {
    expect(normaliseGithubVisibility(delivery("create.tag", (p) => delete p.repository.private))).toEqual([]);
  });
});
