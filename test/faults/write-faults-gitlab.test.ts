import { describe, expect, it } from "@jest/globals";
import { GL_COMMIT, GL_TAGS, GL_UPSTREAM, HOOK_SECRET, sendHook, tagPush } from "../helpers/gitlab-upstream.js";
import type { Harness } from "../helpers/relay-harness.js";
import { sendRun } from "../helpers/runs.js";
import { gitlabToOctoMap } from "../helpers/maps.js";
import { useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Faults on the relay's own writes to a GitLab upstream (commit statuses, the failure note on the
 * merge request): GitLab acts and the answer is lost (the connection cut), or GitLab fails with a
 * 502 and does nothing. The job is retried; the end state is the one without the fault.
 */
const MAP = gitlabToOctoMap(GL_UPSTREAM, { acme: true });
const NAMES = ["openci", "openci: acme/app", "openci: octo"];
const startHarness = useHarness();

type Fault = (h: Harness, doc: string) => void;
const lost: Fault = (h, doc) => h.gitlab!.loseResponse(doc);
const failed: Fault = (h, doc) => h.gitlab!.failNext(doc, 502, { body: { message: "502 Bad Gateway" } });

/** A tag of group/lib (merged in !7) whose two downstreams run, then fail one after the other. */
async function twoFailures(h: Harness, o: { running?: () => void; afterFirst?: () => Promise<unknown> } = {}): Promise<void> {
  await sendHook(h, tagPush(h.gitlab!));
  const runs = await waitFor("both dispatches", () => (h.github.dispatchedRuns.length === 2 ? h.github.dispatchedRuns : undefined));
  const runOf = (repo: string) => runs.find((r) => r.repo === repo)!.runId;
  await waitFor("every status running", () => NAMES.every((n) => h.gitlab!.status(GL_UPSTREAM, GL_COMMIT, n)?.status === "running"));
  o.running?.();
  await sendRun(h, { id: runOf("octo-org/octo-repo"), conclusion: "failure" });
  await o.afterFirst?.();
  await sendRun(h, { repo: "acme/app", id: runOf("acme/app"), conclusion: "failure" });
  await waitFor("every status failed", () => NAMES.every((n) => h.gitlab!.status(GL_UPSTREAM, GL_COMMIT, n)?.status === "failed"), 20_000);
}

const start = async () => {
  const h = await startHarness({
    map: MAP, repos: { "octo-org/octo-repo": octoRepo(), "acme/app": acmeAppRepo() },
    gitlabProjects: [GL_UPSTREAM], gitlabTags: GL_TAGS(), env: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET },
  });
  h.gitlab!.mergeRequests.push({ project: GL_UPSTREAM, iid: 7, state: "merged", shas: [GL_COMMIT], notes: [] });
  return h;
};

describe("fault: a commit status write of the relay is lost or fails", () => {
  const ORDER = ["pending", "running", "failed"];
  const history = (h: Harness, name: string) => h.gitlab!.statusHistory[`${GL_UPSTREAM}@${GL_COMMIT} ${name}`] ?? [];

  it.each([
    ["a lost response", "the first", lost],
    ["a 502", "the first", failed],
    ["a lost response", "a final", lost],
    ["a 502", "a final", failed],
  ])("invariant: %s on %s status leaves each status's states in order, none repeated, ending failed", async (_fault, which, inject) => {
    const h = await start();
    if (which === "the first") inject(h, "set_commit_status");

    await twoFailures(h, { running: () => which === "a final" && inject(h, "set_commit_status") });
    await h.idle();

    for (const name of NAMES) expect({ name, states: history(h, name) }).toEqual({ name, states: ORDER.filter((s) => history(h, name).includes(s)) });
    expect(NAMES.map((name) => history(h, name).at(-1))).toEqual(["failed", "failed", "failed"]);
    expect(h.gitlab!.statuses.map((s) => s.name).sort()).toEqual(NAMES);
    // the fault was met: a status write failed, and its job was tried again
    expect(h.logs.some((l) => l.includes('"msg":"job failed"') && /"reason":"setting the openci[^"]* status of /.test(l))).toBe(true);
  });
});

describe("fault: a failure note write of the relay is lost or fails", () => {
  it.each([
    // a lost create: the retry finds the note GitLab wrote, by its marker and author, and leaves it (same text)
    ["a lost response", "create_merge_request_note", lost, 1, 1],
    ["a 502", "create_merge_request_note", failed, 2, 1],
    ["a lost response", "update_merge_request_note", lost, 1, 2],
    ["a 502", "update_merge_request_note", failed, 1, 2],
  ])("invariant: %s on %s leaves exactly one note, listing every failure", async (_fault, doc, inject, creates, updates) => {
    const h = await start();
    const notes = h.gitlab!.mergeRequests[0]!.notes;
    // the first note is created, then edited
    if (doc === "create_merge_request_note") inject(h, doc);

    await twoFailures(h, {
      afterFirst: async () => {
        await waitFor("the note about octo", () => notes.some((n) => n.body.includes("1 of 2 downstreams")), 20_000);
        if (doc === "update_merge_request_note") inject(h, doc);
      },
    });
    await waitFor("the note about both", () => notes.some((n) => n.body.includes("2 of 2 downstreams")), 20_000);
    await h.idle();

    expect(notes).toHaveLength(1);
    expect(notes[0]!.body).toContain(`<!-- openci-relay:failures:${GL_COMMIT} -->`);
    expect(notes[0]!.body).toContain("2 of 2 downstreams");
    expect(h.gitlab!.calls("create_merge_request_note")).toHaveLength(creates);
    expect(h.gitlab!.calls("update_merge_request_note")).toHaveLength(updates);
  });
});
