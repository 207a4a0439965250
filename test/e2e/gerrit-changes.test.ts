import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, octoRepo } from "../helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM, sendRun } from "../helpers/runs.js";
import { waitFor } from "../helpers/wait-for.js";
import { sshKeyPair } from "../helpers/keys.js";
import { gerritNova } from "../helpers/maps.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeGerritSsh } from "../fakes/gerrit/fake-gerrit-ssh.js";
import { MapError, parseMap } from "../../src/map/load.js";

/**
 * Gerrit changes, third-party-CI style (issue 20 part 2): an edge with `on: [change]` tests the
 * upstream's open changes. A new patch set, and a `recheck` comment on it, announced by
 * stream-events, trigger the downstreams with the change's ref and the patch set's commit; the
 * result goes back as one review message on that patch set once every downstream has ended, with a
 * Verified vote only where the map entry says `vote: true`. A tag of the same upstream writes nothing
 * to Gerrit.
 */
const mapFor = (gerrit: FakeGerrit, ssh: FakeGerritSsh, vote: boolean) => `
version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
${gerritNova(gerrit, { ssh, vote })}  - id: octo
    foundation: openinfra
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: nova, tags: "v*", on: [tag, change] }]
  - id: app
    foundation: openinfra
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: nova, on: [change] }]
`;

const keys = sshKeyPair();
/** Polls once an hour: changes come only from the stream. */
const ENV = {
  GERRIT_USER: "openci", GERRIT_PASSWORD: "http-password", GERRIT_SSH_USER: "openci", GERRIT_SSH_KEY: keys.private, OPENCI_WATCH_INTERVAL_MS: "3600000",
};
const WATCHER: Ignored = { queue: "events", name: "watch-poll", why: "a Gerrit upstream is polled (hourly) for the whole test" };

const startHarness = useHarness();
let gerrit: FakeGerrit;
let ssh: FakeGerritSsh;
beforeEach(async () => {
  gerrit = await FakeGerrit.start({ contextPath: "/r", user: "openci", password: "http-password" });
  gerrit.addProject("openstack/nova");
  gerrit.grants.Verified = [-1, 1];
  ssh = await FakeGerritSsh.start({ user: "openci", publicKey: keys.public, gerrit });
});
afterEach(async () => {
  expect(gerrit.problems).toEqual([]);
  expect(ssh.problems).toEqual([]);
  await ssh.stop();
  await gerrit.stop();
});

interface Dispatch { repo: string; runId: number; tag: string; sha: string; relayRunId: string }
function dispatches(h: Harness): Dispatch[] {
  const calls = h.github.calls("actions/create-workflow-dispatch");
  return calls.map((c, i) => ({
    repo: h.github.dispatchedRuns[i]?.repo ?? "?", runId: h.github.dispatchedRuns[i]?.runId ?? 0,
    tag: c.body.inputs.openci_tag as string, sha: c.body.inputs.openci_sha as string, relayRunId: c.body.inputs.openci_run_id as string,
  }));
}

async function streaming(vote: boolean): Promise<Harness> {
  const h = await startHarness({ map: mapFor(gerrit, ssh, vote), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo(), "acme/app": acmeAppRepo() }, env: ENV });
  await waitFor("the relay following stream-events", () => h.logs.some((l) => l.includes("connected to Gerrit stream-events")), 15_000);
  return h;
}

/** Ends the runs of `batch` (by repository) and waits for the review message they lead to. */
async function finish(h: Harness, batch: Dispatch[], results: Record<string, string>, reviews: number): Promise<void> {
  for (const d of batch) await sendRun(h, { repo: d.repo, id: d.runId, conclusion: results[d.repo]! });
  await waitFor(`review message ${reviews}`, () => gerrit.reviews.length >= reviews, 20_000);
  await h.idle({ ignore: [WATCHER] });
}

describe.each([false, true])("a Gerrit change (vote: %s)", (vote) => {
  it("a patch set runs the change's downstreams once and gets one review message; a comment does nothing, a recheck runs them again", async () => {
    const h = await streaming(vote);

    const change = gerrit.addChange("openstack/nova");
    const ps = change.patchSets[0]!;
    const first = await waitFor("both downstreams dispatched", () => (dispatches(h).length >= 2 ? dispatches(h) : undefined), 20_000);
    expect(first.map((d) => `${d.repo} ${d.tag}@${d.sha}`).sort()).toEqual([
      `acme/app ${ps.ref}@${ps.revision}`, `${EXAMPLE_DOWNSTREAM} ${ps.ref}@${ps.revision}`,
    ]);
    expect(ps.ref).toMatch(/^refs\/changes\/\d{2}\/\d+\/1$/);

    // One fails: one message on that patch set, mailing the owner, with a line per downstream.
    await finish(h, first, { [EXAMPLE_DOWNSTREAM]: "failure", "acme/app": "success" }, 1);
    expect(dispatches(h)).toHaveLength(2);
    expect(gerrit.reviews).toHaveLength(1);
    const failed = gerrit.reviews[0]!;
    expect(failed).toMatchObject({ project: "openstack/nova", change: change.number, patchSet: 1, revision: ps.revision, user: "openci" });
    expect(failed.input).toMatchObject({ tag: "autogenerated:openci", notify: "OWNER" });
    const octoRun = first.find((d) => d.repo === EXAMPLE_DOWNSTREAM)!;
    const appRun = first.find((d) => d.repo === "acme/app")!;
    expect((failed.input.message as string).split("\n")).toEqual([
      "OpenCI: 1 of 2 downstreams failed on patch set 1.",
      "",
      `* openci: app https://github.com/acme/app/actions/runs/${appRun.runId} : SUCCESS`,
      `* openci: octo https://github.com/${EXAMPLE_DOWNSTREAM}/actions/runs/${octoRun.runId} : FAILURE`,
    ]);
    if (vote) {
      expect(failed.input.labels).toEqual({ Verified: -1 });
      expect(failed.applied).toEqual({ Verified: -1 });
    } else expect(failed.input.labels).toBeUndefined();
    // Nothing per downstream: the only writes to Gerrit are review messages.
    expect(gerrit.requests.filter((r) => r.method !== "GET").map((r) => r.path)).toEqual([
      `/r/a/changes/openstack%2Fnova~${change.number}/revisions/${ps.revision}/review`,
    ]);

    // A comment that is not a recheck, then a recheck: the stream keeps their order, so by the time
    // the recheck's runs are dispatched, the comment before it has been handled (and started nothing).
    gerrit.comment(change.number, "Looks good, but please recheck the docs");
    gerrit.comment(change.number, "recheck");
    const again = await waitFor("both downstreams dispatched again", () => (dispatches(h).length >= 4 ? dispatches(h).slice(2) : undefined), 20_000);
    expect(again.map((d) => `${d.repo} ${d.tag}@${d.sha}`).sort()).toEqual(first.map((d) => `${d.repo} ${d.tag}@${d.sha}`).sort());
    // New runs: new relay run ids.
    expect(new Set([...first, ...again].map((d) => d.relayRunId)).size).toBe(4);

    await finish(h, again, { [EXAMPLE_DOWNSTREAM]: "success", "acme/app": "success" }, 2);
    expect(dispatches(h)).toHaveLength(4);
    expect(gerrit.reviews).toHaveLength(2);
    const passed = gerrit.reviews[1]!;
    expect(passed).toMatchObject({ change: change.number, patchSet: 1, revision: ps.revision });
    expect(passed.input).toMatchObject({ tag: "autogenerated:openci", notify: "NONE" });
    expect(passed.input.message).toContain("OpenCI: all 2 downstreams passed on patch set 1.");
    expect(passed.input.message).toContain(`* openci: octo https://github.com/${EXAMPLE_DOWNSTREAM}/actions/runs/${again.find((d) => d.repo === EXAMPLE_DOWNSTREAM)!.runId} : SUCCESS`);
    if (vote) expect(passed.applied).toEqual({ Verified: 1 });
    else expect(passed.input.labels).toBeUndefined();
  }, 90_000);
});

describe("a tag of an upstream whose changes are tested", () => {
  it("triggers its tag edge and writes nothing to Gerrit, even when the run fails", async () => {
    const h = await streaming(true);
    const tag = gerrit.addTag("openstack/nova", "v31.0.0");
    const [run] = await waitFor("the tag dispatched", () => (dispatches(h).length >= 1 ? dispatches(h) : undefined), 20_000);
    expect(run).toMatchObject({ repo: EXAMPLE_DOWNSTREAM, tag: "v31.0.0", sha: tag.commit });
    await sendRun(h, { repo: run!.repo, id: run!.runId, conclusion: "failure" });
    await waitFor("the run's failure recorded", () => h.logs.some((l) => l.includes("downstream run reported upstream") && l.includes(`"runId":"${run!.runId}"`) && l.includes('"conclusion":"failure"')), 20_000);
    await h.idle({ ignore: [WATCHER] });

    expect(dispatches(h)).toHaveLength(1); // app tests changes only
    expect(gerrit.reviews).toEqual([]);
    expect(gerrit.requests.filter((r) => r.method !== "GET")).toEqual([]);
  }, 60_000);
});

describe("the map: on: [change]", () => {
  const problems = (upstream: string): string[] => {
    try {
      parseMap(`version: 2
foundations: [{ id: f, name: F }]
projects:
  - id: up
    foundation: f
${upstream}
  - id: down
    foundation: f
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up, on: [change] }]
`, "map.yml");
      return [];
    } catch (error) {
      if (error instanceof MapError) return error.problems.map((p) => p.message);
      throw error;
    }
  };
  const GERRIT = "    gerrit: { url: https://review.opendev.org, project: openstack/nova";
  const HTTP = ", user_env: GERRIT_USER, password_env: GERRIT_PASSWORD";
  const SSH = ", ssh: { user_env: GERRIT_SSH_USER, key_env: GERRIT_SSH_KEY }";

  it("is taken from a Gerrit upstream with ssh (stream-events) and HTTP credentials (reviews)", () => {
    expect(problems(`${GERRIT}${HTTP}${SSH} }`)).toEqual([]);
    const edge = parseMap(`version: 2\nfoundations: [{ id: f, name: F }]\nprojects:\n  - id: up\n    foundation: f\n${GERRIT}${HTTP}${SSH} }\n  - id: down\n    foundation: f\n    github: acme/app\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: up, on: [change] }]\n`, "map.yml");
    expect(edge.changeDependants("up").map((d) => d.project.id)).toEqual(["down"]);
    expect(edge.dependantsFor("up", "v1.0.0", "tag")).toEqual([]);
  });

  it.each([
    ["a GitHub upstream", "    github: acme/lib", "is not on Gerrit"],
    ["a Gerrit upstream without ssh", `${GERRIT}${HTTP} }`, "only from gerrit stream-events"],
    ["a Gerrit upstream without HTTP credentials", `${GERRIT}${SSH} }`, "posted as an account"],
  ])("is refused from %s, saying why", (_what, upstream, why) => {
    expect(problems(upstream)).toEqual([expect.stringContaining(why)]);
  });
});
