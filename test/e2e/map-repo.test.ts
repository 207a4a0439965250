import { describe, expect, it } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import { gitlabFixture, sendGitlabDelivery } from "../helpers/gitlab-deliveries.js";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { acmeAppRepo, octoRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

const META = "openci/metadata";
const GOOD = "a".repeat(40);
const BROKEN = "b".repeat(40);
const MAP = (dependants: string) => `version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: hello, foundation: f, github: ${UPSTREAM} }
${dependants}`;
const OCTO = "  - { id: octo, foundation: f, github: octo-org/octo-repo, trigger: { workflow: test.yml, ref: master }, depends_on: [{ project: hello }] }\n";

const metadata = (): FakeRepo => ({ installationId: 9, contents: { main: { sha: GOOD, files: { "maps/f.yml": MAP(OCTO), "README.md": "# maps" } } } });
const startHarness = useHarness();
const start = () => startHarness({
  map: "projects: []\n", // nothing local: the metadata repository is the map
  repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), [META]: metadata() },
  env: { OPENCI_MAP_REPO: `${META}@main:maps/` },
});
const mapCheck = (h: Harness, sha: string) => waitFor(`the map's check on ${sha.slice(0, 7)}`, () =>
  h.github.checkRuns.find((c) => c.name === "openci: map" && c.head_sha === sha && c.status === "completed"));
const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");
const ACME = "  - { id: acme/app, foundation: f, github: acme/app, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: hello }] }\n";
/** The log lines of every relay of the harness saying `msg` about the map version `sha`. */
const logged = (h: Harness, msg: string, sha: string) =>
  h.logs.map((l) => JSON.parse(l) as { msg: string; sha?: string; relay: number }).filter((l) => l.msg === msg && l.sha === sha);
const relayOf = (line: { relay: number }) => line.relay;

describe("a metadata repository of maps (OPENCI_MAP_REPO)", () => {
  it("is read through the API at start, used live, and its verdict shown on its commit", async () => {
    const h = await start();

    const check = await mapCheck(h, GOOD);
    await h.send("create.tag");
    await waitFor("octo dispatched", () => dispatches(h)[0]);

    expect(check).toMatchObject({ conclusion: "success", output: { title: "Map taken: 2 projects from 1 file" } });
    expect(h.github.calls("git/get-blob")).toHaveLength(1); // README.md and files outside maps/ are not read
  });

  it("refuses a broken version pushed to it, keeps the last good map, and shows every problem on that commit", async () => {
    const h = await start();
    await mapCheck(h, GOOD);

    h.github.repos[META]!.contents!.main = { sha: BROKEN, files: { "maps/f.yml": MAP(`${OCTO}  - { id: octo, foundation: nope, github: o/x }\n`) } };
    const pushed = await h.send("push.branch", (p) => {
      p.repository.full_name = META;
      p.ref = "refs/heads/main";
      p.after = BROKEN;
    });
    const refused = await mapCheck(h, BROKEN);
    await h.send("create.tag");
    await waitFor("octo still dispatched", () => dispatches(h)[0]);

    expect(pushed.status).toBe(200);
    expect(refused.conclusion).toBe("failure");
    expect(refused.output.title).toBe("Map refused: 2 problems; the relay keeps the last good map");
    expect(refused.output.summary).toContain(`${META}@bbbbbbb:maps/f.yml:6:11: projects[2].id: duplicate id 'octo' (first used by projects[1])`);
    expect(refused.output.summary).toContain("unknown foundation 'nope'");
    expect(h.logs.some((l) => l.includes("new version refused, the last good map stays active"))).toBe(true);
  });

  it("takes a new version on the next push in every process: a worker that did not read it acts on it", async () => {
    const h = await startHarness({
      map: "projects: []\n",
      repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), "acme/app": acmeAppRepo(), [META]: metadata() },
      env: { OPENCI_MAP_REPO: `${META}@main:maps/`, OPENCI_ROLE: "web" },
    });
    const workers = [await h.launch({ OPENCI_ROLE: "worker" })];
    await mapCheck(h, GOOD);
    workers.push(await h.launch({ OPENCI_ROLE: "worker" }));

    // the new version adds acme/app; one worker reads it, the other must follow
    const next = "c".repeat(40);
    h.github.repos[META]!.contents!.main = { sha: next, files: { "maps/f.yml": MAP(`${OCTO}${ACME}`) } };
    await h.send("push.branch", (p) => Object.assign(p, { ref: "refs/heads/main", after: next }, { repository: { ...p.repository, full_name: META } }));
    await mapCheck(h, next);
    const reader = relayOf(await waitFor("the worker that read the new version", () => logged(h, "dependency map: new version taken", next)[0]));
    // web (0) and both workers (1, 2) take the version the reader stored, each when its notice arrives
    // (on a busy machine that may be a second later: a tag sent before then is fanned out on the old map)
    const took = await waitFor("every process to take the stored version", () => {
      const relays = [...new Set(logged(h, "dependency map: took the stored version", next).map(relayOf))].sort();
      return relays.length === 3 ? relays : undefined;
    });
    await workers[reader - 1]!.stop();
    await h.send("create.tag");
    const dispatched = await waitFor("acme/app dispatched by the worker that did not read the map", () =>
      dispatches(h).find((d) => d.path.startsWith("/repos/acme/app/")));

    expect(dispatched.installationId).toBe(2);
    expect(took).toEqual([0, 1, 2]);
  });
});

describe("consent", () => {
  it("refuses a trigger queued under a map that no longer allows it, and says why on the check", async () => {
    const h = await startHarness({
      map: "projects: []\n",
      repos: {
        [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(),
        [META]: { installationId: 9, contents: { main: { sha: GOOD, files: { "maps/f.yml": MAP(OCTO.replace("[{ project: hello }]", "[{ project: hello, after_check: build }]")) } } } },
      },
      env: { OPENCI_MAP_REPO: `${META}@main:maps/` },
    });
    await mapCheck(h, GOOD);
    await h.send("create.tag");
    await waitFor("octo waiting for build", () => h.github.checkRuns.find((c) => c.name === "openci: octo"));

    // octo leaves the map while its trigger waits for the gate
    const without = "c".repeat(40);
    h.github.repos[META]!.contents!.main = { sha: without, files: { "maps/f.yml": MAP("  - { id: octo, foundation: f, github: octo-org/octo-repo }\n") } };
    await h.send("push.branch", (p) => Object.assign(p, { ref: "refs/heads/main", after: without }, { repository: { ...p.repository, full_name: META } }));
    await mapCheck(h, without);
    await h.send("check_run.completed", (p) => Object.assign(p.check_run, { name: "build", head_sha: COMMIT, conclusion: "success" }));
    const refused = await waitFor("octo refused", () => h.github.checkRuns.find((c) => c.name === "openci: octo" && c.status === "completed"));
    await h.idle({ ignore: [{ queue: "events", name: "map-refresh", why: "the metadata repository is read again every 10 minutes" }] });

    expect(dispatches(h)).toHaveLength(0);
    expect(refused.conclusion).toBe("skipped");
    expect(refused.output.summary).toContain("'octo' does not depend on 'hello' in the dependency map (any more).");
    expect(h.logs.some((l) => l.includes("trigger refused"))).toBe(true);
  });
});

describe("a metadata repository on GitLab", () => {
  const SECRET = "hook-secret";
  const startOnGitlab = () => startHarness({
    map: "projects: []\n",
    repos: { [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo() },
    gitlabProjects: [META],
    gitlabContents: { [META]: { main: { sha: GOOD, files: { "maps/f.yml": MAP(OCTO), "maps/notes.txt": "not a map" } } } },
    env: { OPENCI_MAP_REPO: `gitlab:${META}@main:maps/`, GITLAB_WEBHOOK_SECRET: SECRET },
  });
  const status = (h: Harness, sha: string) => waitFor(`the map's status on ${sha.slice(0, 7)}`, () => h.gitlab!.status(META, sha, "openci: map"));

  it("is read at start and again on a Push Hook; a broken version gets a failed status and is not taken", async () => {
    const h = await startOnGitlab();
    const taken = await status(h, GOOD);

    h.gitlab!.setContents(META, "main", { sha: BROKEN, files: { "maps/f.yml": "version: 2\nprojects: [{ id: x }]\n" } });
    const push = gitlabFixture("push");
    Object.assign(push.body, { ref: "refs/heads/main", after: BROKEN, checkout_sha: BROKEN });
    Object.assign(push.body.project, { path_with_namespace: META, web_url: `${h.gitlab!.url}/${META}` });
    expect((await sendGitlabDelivery(h.url, push, { token: SECRET })).status).toBe(200);
    const refused = await status(h, BROKEN);
    await h.send("create.tag");
    await waitFor("octo dispatched by the last good map", () => dispatches(h)[0]);

    expect(taken).toMatchObject({ status: "success", ref: "main", description: "Map taken: 2 projects from 1 file" });
    expect(refused).toMatchObject({ status: "failed", description: "Map refused: 1 problem; the relay keeps the last good map" });
    expect(h.gitlab!.calls("get_raw_file").map((c) => c.params.file_path)).toEqual(["maps/f.yml", "maps/f.yml"]);
  });
});
