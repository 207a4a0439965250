import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Ignored } from "../helpers/idle.js";
import { allJobs } from "../helpers/queue-client.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { octoRepo } from "../helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM, sendRun } from "../helpers/runs.js";
import { getJson, releaseWhen } from "../helpers/history.js";
import { startGitHttpServer, type BareRepo, type GitHttpServer } from "../helpers/git-http-server.js";
import { waitFor } from "../helpers/wait-for.js";

/** Every job the report queue ever held: pushes to an upstream's commit, none of which may be tried. */
const reportJobs = (h: Harness): Promise<number> => allJobs(h.redisUrl, "report");

/**
 * An upstream on a plain git host, which sends no webhook and plays no role but `source`: the relay
 * watches it, reading its tags over smart HTTP from git's own `git http-backend`, and triggers its
 * GitHub downstream (the workflow_run examples' octo-org/octo-repo) for each new or moved tag.
 */
const mapFor = (url: string) => `
version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
  - { id: nova, foundation: openinfra, git: ${url} }
  - id: octo
    foundation: openinfra
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: nova, tags: "v*" }]
`;

/** Polls every 300 ms (the floor lowered for the test: OPENCI_WATCH_MIN_INTERVAL_MS). */
const ENV = { OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300" };

/** The watcher polls for the whole test: its polls come and go while everything else is idle. */
const WATCHER: Ignored = { queue: "events", name: "watch-poll", why: "a git: upstream is polled every 300 ms for the whole test" };

const startHarness = useHarness();
let server: GitHttpServer;
beforeEach(async () => {
  server = await startGitHttpServer();
});
afterEach(async () => {
  await server.stop();
});

const reads = () => server.requests.filter((r) => r.path.endsWith("/info/refs")).length;

/** Waits for two more complete reads of the git repository, so that one started after what the test did. */
async function twoMorePolls(): Promise<void> {
  const now = reads();
  await waitFor("two more polls of the git host", () => reads() >= now + 2 && server.requests.at(-1)!.status !== 0, 10_000);
}

/** The dispatches to octo, as "tag@sha". */
const dispatched = (h: Harness) =>
  h.github.calls("actions/create-workflow-dispatch").map((c) => `${c.body.inputs.openci_tag}@${c.body.inputs.openci_sha}`);

async function quiet(h: Harness): Promise<void> {
  await twoMorePolls();
  await h.idle({ ignore: [WATCHER] });
}

describe("an upstream on any git host, watched (issue 18)", () => {
  let repo: BareRepo;
  let c1: string;
  beforeEach(async () => {
    repo = await server.createRepo("nova");
    c1 = await repo.commit();
    await repo.annotatedTag("v1.0.0", c1);
    await repo.tag("v0.9.0", c1);
  });

  it("takes a baseline, then triggers each new tag once, a moved tag again, a deleted tag never; and only reads the git host", async () => {
    const h = await startHarness({ map: mapFor(repo.url), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });

    // 1. The first look is a baseline: the tags it finds never trigger.
    await waitFor("the baseline", () => h.logs.some((l) => l.includes("watch: baseline taken") && l.includes('"upstream":"nova"')), 10_000);
    await quiet(h);
    expect(dispatched(h)).toEqual([]);

    // 2. A new (annotated) tag: one dispatch, with the commit it peels to.
    const c2 = await repo.commit();
    await repo.annotatedTag("v1.1.0", c2);
    await waitFor("v1.1.0 dispatched", () => dispatched(h).length >= 1, 10_000);
    await quiet(h);
    expect(dispatched(h)).toEqual([`v1.1.0@${c2}`]);
    expect(h.github.calls("actions/create-workflow-dispatch")[0]!.body.inputs).toMatchObject({ openci_upstream: "nova", openci_upstream_repo: repo.url });

    // 3. The tag moved to another commit: a new release, dispatched again.
    const c3 = await repo.commit();
    await repo.moveTag("v1.1.0", c3, true);
    await waitFor("the moved v1.1.0 dispatched", () => dispatched(h).length >= 2, 10_000);

    // 4. A deleted tag triggers nothing; two new tags seen in one poll trigger each.
    await repo.deleteTag("v1.0.0");
    await quiet(h);
    await repo.tags(["v2.0.0", "v2.1.0"], c3);
    await waitFor("both new tags dispatched", () => dispatched(h).length >= 4, 10_000);
    await quiet(h);

    expect(dispatched(h)).toEqual([`v1.1.0@${c2}`, `v1.1.0@${c3}`, `v2.0.0@${c3}`, `v2.1.0@${c3}`]);
    expect(h.logs.some((l) => l.includes("watch: deleted tags forgotten") && l.includes("v1.0.0"))).toBe(true);
    // Only reads reach the git host; nothing at all is written about it anywhere (it has no reporter).
    expect(new Set(server.requests.map((r) => `${r.method} ${r.path}?${r.query}`))).toEqual(new Set(["GET /nova.git/info/refs?service=git-upload-pack"]));
    expect(h.github.checkRuns).toEqual([]);
    expect(h.github.requests.filter((r) => r.method !== "GET" && r.operationId !== "actions/create-workflow-dispatch" && r.operationId !== "apps/create-installation-access-token")).toEqual([]);
  }, 60_000);

  it("records the release and the downstream's result in the history and the API, and writes nothing upstream", async () => {
    const h = await startHarness({ map: mapFor(repo.url), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });
    await waitFor("the baseline", () => h.logs.some((l) => l.includes("watch: baseline taken")), 10_000);
    const c2 = await repo.commit();
    await repo.tag("v3.0.0", c2);
    await waitFor("v3.0.0 dispatched", () => h.github.dispatchedRuns.length >= 1, 10_000);

    await sendRun(h, { id: h.github.dispatchedRuns[0]!.runId, conclusion: "success" });
    const release = await releaseWhen(h, "nova", "v3.0.0", { octo: "passed" });
    await quiet(h);

    expect(release.release).toMatchObject({ project: "nova", forge: "git", repo: repo.url, tag: "v3.0.0", sha: c2, source: "watch" });
    expect((await getJson(h, "/api/v1/releases/nova/v1.0.0")).status).toBe(404);
    expect(h.github.checkRuns).toEqual([]);
    expect(h.github.comments).toEqual([]);
    expect(await reportJobs(h)).toBe(0);
  }, 60_000);

  it("a git host that cannot be read logs one clear warning, and the other upstreams go on", async () => {
    const map = mapFor(repo.url).replace("projects:\n", `projects:\n  - { id: gone, foundation: openinfra, git: ${server.base}/nowhere.git }\n`)
      .replace('depends_on: [{ project: nova, tags: "v*" }]', 'depends_on: [{ project: nova, tags: "v*" }, { project: gone }]');
    const h = await startHarness({ map, repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });
    await waitFor("the baseline of nova", () => h.logs.some((l) => l.includes("watch: baseline taken") && l.includes('"upstream":"nova"')), 10_000);
    await waitFor("several polls of the missing repository", () => server.requests.filter((r) => r.path === "/nowhere.git/info/refs").length >= 3, 10_000);

    await repo.tag("v4.0.0", c1);
    await waitFor("nova's new tag dispatched", () => dispatched(h).length >= 1, 10_000);

    const warnings = h.logs.filter((l) => l.includes("watch: cannot read this upstream's tags"));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, upstream: "gone", url: `${server.base}/nowhere.git`, err: expect.stringContaining("no git repository at") });
    expect(dispatched(h)).toEqual([`v4.0.0@${c1}`]);
  }, 60_000);

  it("asks with the last ETag where the host gives one: a 304 costs nothing and triggers nothing", async () => {
    const cached = await startGitHttpServer({ etags: true });
    try {
      const glance = await cached.createRepo("glance");
      const g1 = await glance.commit();
      await glance.tag("v1.0.0", g1);
      const h = await startHarness({ map: mapFor(glance.url), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });
      await waitFor("three 304s", () => cached.requests.filter((r) => r.status === 304).length >= 3, 10_000);

      await glance.tag("v1.1.0", g1);
      await waitFor("v1.1.0 dispatched", () => dispatched(h).length >= 1, 10_000);

      // The baseline is read whole; later polls send its ETag (the server answers 304 only to a match).
      expect(cached.requests[0]!.headers["if-none-match"]).toBeUndefined();
      expect(cached.requests.filter((r) => r.status === 304).length).toBeGreaterThanOrEqual(3);
      expect(dispatched(h)).toEqual([`v1.1.0@${g1}`]);
    } finally {
      await cached.stop();
    }
  }, 60_000);
});
