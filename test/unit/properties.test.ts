import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { dump } from "js-yaml";
import { normaliseGithubTag } from "../../src/events/github.js";
import { normaliseGithubCheckRun, normaliseGithubRerun } from "../../src/events/github-check.js";
import { normaliseGithubCheckSuite, normaliseGithubPullHead, normaliseGithubRun } from "../../src/events/github-run.js";
import { normaliseGitlab } from "../../src/events/gitlab.js";
import { PayloadError } from "../../src/events/parse-payload.js";
import { TagEvent } from "../../src/events/tag-event.js";
import { RunEvent } from "../../src/events/run-event.js";
import { MapError, parseMapFiles } from "../../src/map/load.js";
import { githubFixture } from "../helpers/fixtures.js";
import { gitlabFixture } from "../helpers/gitlab-deliveries.js";

/** Runs `f`; a result, or a PayloadError (a clear "rejected" line), is fine. Anything else is a crash. */
const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (error) {
    if (error instanceof PayloadError) return { rejected: error.message };
    throw error;
  }
};

/** A real payload with values at random paths replaced by anything JSON can hold. */
function mutated(base: unknown) {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    if (path.length > 0) paths.push(path);
    if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) if (path.length < 4) walk(x, [...path, k]);
  };
  walk(base, []);
  return fc.array(fc.tuple(fc.constantFrom(...paths), fc.jsonValue()), { maxLength: 6 }).map((changes) => {
    const copy = structuredClone(base) as Record<string, unknown>;
    for (const [path, value] of changes) {
      let at: Record<string, unknown> = copy;
      for (const k of path.slice(0, -1)) at = (at[k] && typeof at[k] === "object" ? at[k] : (at[k] = {})) as Record<string, unknown>;
      at[path[path.length - 1]!] = value;
    }
    return copy;
  });
}

describe("webhook normalisation, for any payload", () => {
  const github = [
    ["create", githubFixture("create.tag")], ["push", githubFixture("push.tag")], ["release", githubFixture("release.published")],
    ["workflow_run", githubFixture("workflow_run.completed")], ["check_suite", githubFixture("check_suite.completed")],
    ["check_run", githubFixture("check_run.completed")], ["check_run", githubFixture("check_run.rerequested")],
  ] as const;

  it.each(github)("GitHub %s: an event that passes its schema, or a clear rejection, never a crash", (name, fixture) => {
    fc.assert(fc.property(fc.oneof(mutated(fixture), fc.jsonValue()), (payload) => {
      const delivery = { id: "d1", name, payload };
      const results = [
        outcome(() => normaliseGithubTag(delivery)), outcome(() => normaliseGithubRun(delivery)),
        outcome(() => normaliseGithubCheckSuite(delivery, 4242)), outcome(() => normaliseGithubPullHead(delivery, 4242)),
        outcome(() => normaliseGithubCheckRun(delivery)), outcome(() => normaliseGithubRerun(delivery)),
      ];
      const [tag, run] = results;
      if (tag && "ok" in tag && tag.ok) expect(TagEvent.safeParse(tag.ok).success).toBe(true);
      if (run && "ok" in run && run.ok) expect(RunEvent.safeParse(run.ok).success).toBe(true);
      if (tag && "ok" in tag && tag.ok) expect((tag.ok as TagEvent).repo).toMatch(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/);
    }), { numRuns: 300 });
  });

  it.each([["Tag Push Hook", "tag_push"], ["Pipeline Hook", "pipeline"], ["Job Hook", "job"], ["Push Hook", "push"]] as const)(
    "GitLab %s: work items, or a clear rejection, never a crash", (event, fixture) => {
      fc.assert(fc.property(fc.oneof(mutated(gitlabFixture(fixture).body), fc.jsonValue()), (body) => {
        const result = outcome(() => normaliseGitlab({ event, body, deliveryId: "d1", host: undefined }));
        if (!("ok" in result)) return;
        for (const work of result.ok as { name: string; data: unknown }[]) {
          if (work.name === "tag") expect(TagEvent.safeParse(work.data).success).toBe(true);
          if (work.name === "run") expect(RunEvent.safeParse(work.data).success).toBe(true);
        }
      }), { numRuns: 300 });
    });
});

describe("the map loader, for any text", () => {
  const load = (text: string) => {
    try {
      return parseMapFiles([{ file: "map.yml", text }], "map.yml").map.size;
    } catch (error) {
      if (error instanceof MapError) {
        for (const p of error.problems) expect(p).toMatchObject({ file: "map.yml", line: expect.any(Number), column: expect.any(Number), message: expect.any(String) });
        return "invalid";
      }
      throw error;
    }
  };

  it("gives a map or every problem as FILE:LINE:COL, never a crash: arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => void load(text)), { numRuns: 500 });
  });

  it("…and maps shaped like the real ones, with anything in their fields", () => {
    const id = fc.constantFrom("a", "b", "c", "nova", "kolla");
    const project = fc.record({
      id, github: fc.oneof(fc.constantFrom("o/a", "o/b", "o/c"), fc.string()), trigger: fc.oneof(fc.constant({ workflow: "ci.yml", ref: "main" }), fc.jsonValue()),
      depends_on: fc.array(fc.record({ project: id, tags: fc.oneof(fc.constantFrom("v*", "*", "[", "**"), fc.string()), semver: fc.oneof(fc.constantFrom(">=1", "~1.2", "bad range"), fc.string()) }, { requiredKeys: ["project"] }), { maxLength: 3 }),
      cascade: fc.boolean(),
    }, { requiredKeys: ["id"] });
    const map = fc.record({
      version: fc.constantFrom(1, 2, 3, "2"),
      foundations: fc.array(fc.record({ id: fc.constantFrom("lf", "cncf", "Bad Id"), name: fc.string() }), { maxLength: 2 }),
      projects: fc.array(project, { maxLength: 5 }),
      settings: fc.record({ cascade_hop_limit: fc.oneof(fc.integer({ min: -2, max: 30 }), fc.string()) }),
    }, { requiredKeys: ["projects"] });
    fc.assert(fc.property(map, (m) => void load(dump(m))), { numRuns: 400 });
  });
});
