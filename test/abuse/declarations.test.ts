import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

const MAP = `version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - { id: hello, foundation: lf, github: ${UPSTREAM} }
  - id: listed
    foundation: lf
    github: listed/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;
const startHarness = useHarness();
const SHA = "d".repeat(40);
const declaring = (installationId: number, text: string) => ({
  installationId, workflows: { "ci.yml": {} }, contents: { main: { sha: SHA, files: { ".github/openci.yml": text } } },
});
const start = (repos: Record<string, ReturnType<typeof declaring>>, env: Record<string, string> = {}) => startHarness({
  map: MAP, env, repos: { [UPSTREAM]: upstreamRepo(), "listed/app": { installationId: 9, workflows: { "ci.yml": {} } }, ...repos },
});
/** The real installation.created example, as the app installed on these repositories. */
const install = async (h: Harness, id: number, ...repos: string[]) => {
  await h.send("installation.created", (p) => {
    p.installation.id = id;
    p.repositories = repos.map((full_name) => ({ ...p.repositories[0], full_name, name: full_name.split("/")[1]!, private: false }));
  });
  await waitFor("the declarations read", () => h.logs.filter((l) => l.includes("declaration read")).length >= repos.length);
  for (const repo of repos) await pushed(h, repo, id);
};
/** The real push example, as a push to the repository's default branch changing its declaration: the verdict goes on that commit. */
const pushed = (h: Harness, repo: string, installationId: number) => h.send("push.branch", (p) => {
  Object.assign(p, { ref: "refs/heads/main", after: SHA });
  p.repository = { ...p.repository, full_name: repo, name: repo.split("/")[1]!, default_branch: "main" };
  p.installation = { id: installationId, node_id: "x" };
  p.commits = [{ ...p.commits?.[0], added: [], removed: [], modified: [".github/openci.yml"] }];
});
const verdict = (h: Harness, repo: string) => waitFor(`the declaration verdict on ${repo}`, () =>
  h.github.checkRuns.find((c) => c.name === "openci: declaration" && c.repo === repo && c.head_sha === SHA));
const projectPage = async (h: Harness, id: string) => {
  const res = await fetch(`${h.url}/projects/${encodeURIComponent(id)}`);
  return { status: res.status, text: await res.text() };
};
const dispatchesTo = (h: Harness, repo: string) => h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);

describe("declarations cannot squat names nor grow without bound (issue 16, finding 8)", () => {
  it("refuses a declared-only repository's own id, on its commit, saying the id it has", async () => {
    const h = await start({ "evil/app": declaring(3, "id: kubernetes\ntrigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }]\n") });

    await install(h, 3, "evil/app");
    const check = await verdict(h, "evil/app");

    expect(check.conclusion).toBe("failure");
    expect(check.output.summary).toContain(
      "github:evil/app/.github/openci.yml:1:5: id: refused: only the reviewed map gives ids, and it does not list this repository, so its id is 'github:evil/app'; leave 'id' out (or ask the map's maintainers to list it)",
    );
    expect(h.logs.some((l) => l.includes("declaration refused") && l.includes("only the reviewed map gives ids"))).toBe(true);
  });

  it("names a declared-only repository github:owner/repo and shows its own metadata only as declared by the repository", async () => {
    const h = await start({ "acme/app": declaring(3, "foundation: cncf\ndescription: The official Kubernetes\nhomepage: https://kubernetes.example\ntrigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }]\n") });

    await install(h, 3, "acme/app");
    await h.send("create.tag");
    await waitFor("acme/app dispatched", () => dispatchesTo(h, "acme/app")[0]);
    const page = await projectPage(h, "github:acme/app");

    expect((await verdict(h, "acme/app")).conclusion).toBe("success");
    expect(page.status).toBe(200);
    expect((await projectPage(h, "acme/app")).status).toBe(404);
    expect(page.text).not.toContain("<dt>Foundation</dt><dd>cncf</dd>");
    expect(page.text).toContain("<h2>Declared by the repository</h2>");
    expect(page.text).toContain("<dt>Foundation</dt><dd>cncf <small>(declared by the repository)</small></dd>");
    expect(page.text).toContain("The official Kubernetes <small>(declared by the repository)</small>");
    expect(page.text).not.toContain('href="https://kubernetes.example"');
  });

  it("takes at most OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER declared-only repositories of one owner; the next is refused on its commit", async () => {
    const text = "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }]\n";
    const h = await start({ "acme/one": declaring(3, text), "acme/two": declaring(3, text), "other/one": declaring(3, text) }, { OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER: "1" });

    await install(h, 3, "acme/one");
    await install(h, 3, "acme/two");
    await install(h, 3, "other/one");
    const refused = await verdict(h, "acme/two");

    expect((await verdict(h, "acme/one")).conclusion).toBe("success");
    expect((await verdict(h, "other/one")).conclusion).toBe("success");
    expect(refused.conclusion).toBe("failure");
    expect(refused.output.summary).toContain("refused: acme already has 1 declared repositories the reviewed map does not list (OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER)");
    expect((await projectPage(h, "github:acme/two")).status).toBe(404);
    expect((await projectPage(h, "github:acme/one")).status).toBe(200);
  });

  it("takes at most OPENCI_MAX_DECLARED_EDGES_PER_PROJECT upstreams in one declaration", async () => {
    const h = await start({ "acme/app": declaring(3, "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }, { project: listed }]\n") }, { OPENCI_MAX_DECLARED_EDGES_PER_PROJECT: "1" });

    await install(h, 3, "acme/app");
    const refused = await verdict(h, "acme/app");

    expect(refused.conclusion).toBe("failure");
    expect(refused.output.summary).toContain("depends_on: 2 upstreams, more than the 1 a declaration may name (OPENCI_MAX_DECLARED_EDGES_PER_PROJECT)");
  });

  it("cannot hang the fan-out with a tag_regex that backtracks (finding 2): the other dependants are triggered at once", async () => {
    const h = await start({ "acme/app": declaring(3, `trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello, tag_regex: "${".*".repeat(240)}X" }]\n`) });
    await install(h, 3, "acme/app");
    expect((await verdict(h, "acme/app")).conclusion).toBe("success");

    await h.send("create.tag");
    await waitFor("listed/app dispatched", () => dispatchesTo(h, "listed/app")[0], 5000);
    await h.idle();

    expect(dispatchesTo(h, "acme/app")).toEqual([]);
  });
});
