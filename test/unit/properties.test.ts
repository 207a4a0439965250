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
import { CheckEvent } from "../../src/events/check-event.js";
import { RerunEvent } from "../../src/events/rerun-event.js";
import { PullHeadEvent } from "../../src/events/pull-head-event.js";
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

type Outcome = ReturnType<typeof outcome>;
type Verdict = "rejected" | "nothing" | "event" | "malformed";

/** What a normaliser made of a payload: a clear rejection, nothing (not its event), an event its schema accepts, or else malformed. */
function verdict(result: Outcome, schema: { safeParse(v: unknown): { success: boolean } }, extra: (ok: any) => boolean = () => true): Verdict {
  if ("rejected" in result) return typeof result.rejected === "string" && result.rejected.length > 0 ? "rejected" : "malformed";
  if (result.ok === null) return "nothing";
  return schema.safeParse(result.ok).success && extra(result.ok) ? "event" : "malformed";
}

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

/** The example as a "Re-run" on one of the relay's own checks (others are not the relay's to act on). */
function asRelayRerun(payload: any) {
  Object.assign(payload.check_run, { name: "openci: octo", external_id: `trigger-${"a".repeat(32)}` });
  return payload;
}

/** The example as a tag's job that ended (others make no work item). */
function asTagJob(body: any) {
  return { ...body, tag: true, ref: "v1.0.0", build_status: "failed" };
}

describe("webhook normalisation, for any payload", () => {
  const github = [
    ["create", githubFixture("create.tag")], ["push", githubFixture("push.tag")], ["release", githubFixture("release.published")],
    ["workflow_run", githubFixture("workflow_run.completed")], ["check_suite", githubFixture("check_suite.completed")],
    ["check_run", githubFixture("check_run.completed")], ["check_run", asRelayRerun(githubFixture("check_run.rerequested"))],
  ] as const;

  it.each(github)("GitHub %s: an event that passes its schema, or a clear rejection, never a crash", (name, fixture) => {
    const events = { count: 0 };
    fc.assert(fc.property(fc.oneof(mutated(fixture), fc.jsonValue()), (payload) => {
      const delivery = { id: "d1", name, payload };
      const verdicts = [
        verdict(outcome(() => normaliseGithubTag(delivery)), TagEvent, (t: TagEvent) => /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(t.repo)),
        verdict(outcome(() => normaliseGithubRun(delivery)), RunEvent),
        verdict(outcome(() => normaliseGithubCheckSuite(delivery, 4242)), RunEvent),
        verdict(outcome(() => normaliseGithubPullHead(delivery, 4242)), PullHeadEvent),
        verdict(outcome(() => normaliseGithubCheckRun(delivery)), CheckEvent),
        verdict(outcome(() => normaliseGithubRerun(delivery)), RerunEvent),
      ];
      events.count += verdicts.filter((v) => v === "event").length;

      expect(verdicts.filter((v) => v === "malformed")).toEqual([]);
    }), { numRuns: 300 });
    // not vacuous: the real payload, little changed, still makes events
    expect(events.count).toBeGreaterThan(0);
  });

  it.each([["Tag Push Hook", "tag_push"], ["Pipeline Hook", "pipeline"], ["Job Hook", "job"], ["Push Hook", "push"]] as const)(
    "GitLab %s: work items, or a clear rejection, never a crash", (event, fixture) => {
      const schemas: Record<string, { safeParse(v: unknown): { success: boolean } }> = { tag: TagEvent, run: RunEvent, check: CheckEvent };
      const items = { count: 0 };
      const base = fixture === "job" ? asTagJob(gitlabFixture(fixture).body) : gitlabFixture(fixture).body;
      fc.assert(fc.property(fc.oneof(mutated(base), fc.jsonValue()), (body) => {
        const result = outcome(() => normaliseGitlab({ event, body, deliveryId: "d1", host: undefined }));
        const verdicts: Verdict[] = "rejected" in result
          ? [verdict(result, TagEvent)]
          : (result.ok as { name: string; data: unknown }[]).map((work) => (schemas[work.name]?.safeParse(work.data).success ? "event" : "malformed"));
        items.count += verdicts.filter((v) => v === "event").length;

        expect(verdicts.filter((v) => v === "malformed")).toEqual([]);
      }), { numRuns: 300 });
      // not vacuous, except for the Push Hook, which makes no work item (branch pushes are read elsewhere)
      if (fixture !== "push") expect(items.count).toBeGreaterThan(0);
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
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
      const loaded = load(text);

      expect(loaded === "invalid" || (Number.isInteger(loaded) && loaded >= 0)).toBe(true);
    }), { numRuns: 500 });
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
    const loaded = { valid: 0 };
    fc.assert(fc.property(map, (m) => {
      const result = load(dump(m));
      if (result !== "invalid") loaded.valid++;

      expect(result === "invalid" || (Number.isInteger(result) && result >= 0)).toBe(true);
    }), { numRuns: 400 });
    expect(loaded.valid).toBeGreaterThan(0);
  });
});
