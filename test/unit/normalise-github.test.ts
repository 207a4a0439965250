import { describe, expect, it } from "@jest/globals";
import { normaliseGithubTag } from "../../src/events/github.js";
import { PayloadError } from "../../src/events/parse-payload.js";
import { TagEvent } from "../../src/events/tag-event.js";
import { githubFixture } from "../helpers/fixtures.js";

const now = new Date("2026-11-21T12:00:00Z");
const delivery = (name: string, payload: unknown) => ({ id: "d-1", name, payload });

describe("normaliseGithubTag", () => {
  it.each([
    ["create", githubFixture("create.tag"), { source: "create", sha: undefined, installationId: 1 }],
    ["push", githubFixture("push.tag"), { source: "push", sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", installationId: undefined }],
  ])("turns a tag %s into a TagEvent", (name, payload, expected) => {
    const event = normaliseGithubTag(delivery(name, payload), now);

    expect(event).toEqual({
      forge: "github", repo: "Codertocat/Hello-World", tag: "simple-tag", deliveryId: "d-1", receivedAt: now.toISOString(), ...expected,
    });
    expect(TagEvent.safeParse(event).success).toBe(true);
  });

  it("turns a published release into the event of its tag", () => {
    const event = normaliseGithubTag(delivery("release", githubFixture("release.published")), now);

    expect(event).toMatchObject({ source: "release", tag: "0.0.1", repo: "Codertocat/Hello-World" });
    expect(event?.sha).toBeUndefined();
  });

  it.each([
    ["a branch push", "push", githubFixture("push.branch")],
    ["a tag deletion", "push", githubFixture("push.tag-deleted")],
    ["a branch creation", "create", { ...githubFixture("create.tag"), ref_type: "branch" }],
    ["a draft release", "release", { ...githubFixture("release.published"), release: { ...githubFixture("release.published").release, draft: true } }],
    ["an event the relay does not use", "issues", {}],
  ])("ignores %s", (_what, name, payload) => {
    expect(normaliseGithubTag(delivery(name, payload), now)).toBeNull();
  });

  it.each([
    ["a repository name with path tricks", "create", { ...githubFixture("create.tag"), repository: { full_name: "../../etc/passwd" } }],
    ["a huge tag name", "create", { ...githubFixture("create.tag"), ref: "v".repeat(300) }],
    ["a tag name git forbids", "push", { ...githubFixture("push.tag"), ref: "refs/tags/a:b" }],
    ["a wrong type", "push", { ...githubFixture("push.tag"), after: 42 }],
  ])("rejects %s with a PayloadError", (_what, name, payload) => {
    expect(() => normaliseGithubTag(delivery(name, payload), now)).toThrow(PayloadError);
  });
});
