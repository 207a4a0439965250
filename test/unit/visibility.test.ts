import { describe, expect, it } from "@jest/globals";
import { parseMap, parseMapFiles } from "../../src/map/load.js";
import type { DependencyMap, Project } from "../../src/map/graph.js";
import { UpstreamSurface, sameOwner } from "../../src/trust/upstream-surface.js";
import { ProjectVisibility, VISIBILITY_MAX_AGE_MS } from "../../src/trust/visibility.js";
import { VisibilityStore, type Visibility } from "../../src/trust/visibility-store.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { ForgeError } from "../../src/forge/errors.js";

const redis = useTestRedisClient();
let n = 0;

const MAP = `
version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - id: up
    foundation: lf
    github: upco/lib
  - id: same-owner
    foundation: lf
    github: upco/tests
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
  - id: other
    foundation: lf
    github: otherco/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
  - id: marked
    foundation: lf
    github: otherco/marked
    visibility: private
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up }]
`;

/** A resolver over a fresh key space, asking a forge that answers from `forge` (and counts). */
function resolver(map: DependencyMap, forge: Record<string, Visibility | Error>, now = () => Date.now()) {
  const store = new VisibilityStore(redis());
  const asked: string[] = [];
  const vis = new ProjectVisibility({
    map: () => map, store, now,
    lookup: async (p: Project) => {
      asked.push(p.id);
      const answer = forge[p.id];
      if (answer === undefined || answer instanceof Error) throw answer ?? new ForgeError(`${p.id} not found`, "config", { status: 404 });
      return answer;
    },
  });
  return { vis, store, asked };
}

// Each test its own repositories: the store is shared by the file's Redis.
const freshText = (text: string) => text.replaceAll("upco/", `upco${++n}/`).replaceAll("otherco/", `otherco${n}/`);
const fresh = (text: string) => parseMap(freshText(text));

describe("a project's visibility", () => {
  it("is the forge's word, asked once and kept; the map's private always wins", async () => {
    const map = fresh(MAP);
    const { vis, asked } = resolver(map, { other: "public", marked: "public", up: "public" });

    const first = await Promise.all([vis.of(map.project("other")!), vis.of(map.project("other")!)]);
    const again = await vis.of(map.project("other")!);
    const marked = await vis.of(map.project("marked")!);

    expect(first).toEqual(["public", "public"]);
    expect(again).toBe("public");
    expect(marked).toBe("private");
    expect(asked).toEqual(["other"]);
  });

  it("counts as private while the forge cannot tell, and is asked again next time", async () => {
    const map = fresh(MAP);
    const forge: Record<string, Visibility | Error> = { other: new ForgeError("the app is not installed on otherco/app", "config", { status: 404 }) };
    const { vis, asked } = resolver(map, forge);

    const unknown = await vis.anyPrivate(["other"]);
    forge.other = "public";
    const known = await vis.anyPrivate(["other"]);

    expect(unknown).toBe(true);
    expect(known).toBe(false);
    expect(asked).toEqual(["other", "other"]);
  });

  it("throws a passing failure of the forge (the job retries) instead of guessing", async () => {
    const map = fresh(MAP);
    const { vis, asked } = resolver(map, { other: new ForgeError("GitHub answered 502", "transient", { status: 502 }) });

    await expect(vis.anyPrivate(["other"])).rejects.toThrow("502");
    expect(asked).toEqual(["other"]);
  });

  it("is asked again once the last word is older than an hour (GitLab sends no event when it changes)", async () => {
    const map = fresh(MAP);
    let clock = 1_000_000;
    const forge: Record<string, Visibility | Error> = { other: "public" };
    const { vis } = resolver(map, forge, () => clock);
    await vis.of(map.project("other")!);
    forge.other = "private";

    clock += VISIBILITY_MAX_AGE_MS - 1;
    const cached = await vis.of(map.project("other")!);
    clock += 2;
    const asked = await vis.of(map.project("other")!);

    expect(cached).toBe("public");
    expect(asked).toBe("private");
  });

  it("hides from public views what is known private now, never asking a forge", async () => {
    const map = fresh(MAP);
    const { vis, store, asked } = resolver(map, {});
    await store.set(map.project("other")!.location, "private", "event");
    await store.set(map.project("same-owner")!.location, "public", "payload");

    const hidden = await vis.hidden(["up", "same-owner", "other", "marked", "not-in-map"]);

    expect([...hidden].sort()).toEqual(["marked", "other"]);
    expect(asked).toEqual([]);
  });

  it("counts a project no longer in the map as private", async () => {
    const map = fresh(MAP);
    const { vis } = resolver(map, { up: "public" });

    expect(await vis.anyPrivate(["up", "gone"])).toBe(true);
    expect(await vis.anyPrivate(["up"])).toBe(false);
  });
});

describe("what deliveries said of visibility, carried in their jobs", () => {
  it("is kept for GitHub repositories and GitLab projects (with their host); anything malformed is not", async () => {
    const store = new VisibilityStore(redis());
    const gh = { forge: "github" as const, repo: `kept${++n}/app` };
    const gl = { forge: "gitlab" as const, project: `grp${n}/tool`, host: "gitlab.example.org" };

    await store.keepReported({ tag: "v1", visibility: [{ repo: gh.repo, visibility: "public" }, { forge: "gitlab", repo: gl.project, host: gl.host, visibility: "private" }] });
    await store.keepReported({ visibility: [{ repo: "not a repo", visibility: "public" }] });
    await store.keepReported({ tag: "v1" });

    const [github, gitlab, defaultHost] = await store.get([gh, gl, { ...gl, host: undefined }]);
    expect([github?.visibility, github?.source, gitlab?.visibility, defaultHost]).toEqual(["public", "payload", "private", undefined]);
  });
});

describe("the kept word on visibility", () => {
  it("is never replaced by an older one: a retried job's old payload cannot undo a later privatized", async () => {
    const store = new VisibilityStore(redis());
    const repo = { forge: "github" as const, repo: `aged${++n}/app` };
    await store.set(repo, "private", "event", 2_000);

    await store.keepReported({ visibility: [{ repo: repo.repo, visibility: "public", at: 1_000 }] });
    const kept = (await store.get([repo]))[0];
    await store.keepReported({ visibility: [{ repo: repo.repo, visibility: "public", at: 3_000 }] });
    const newer = (await store.get([repo]))[0];

    expect([kept?.visibility, kept?.source]).toEqual(["private", "event"]);
    expect([newer?.visibility, newer?.at]).toEqual(["public", 3_000]);
  });
});

describe("who is shown on an upstream's commit", () => {
  const trigger = (downstreamId: string, path?: string[]) => ({
    upstream: { projectId: "up" }, downstreamId, ...(path ? { chain: { id: "c", path } } : {}),
  }) as Parameters<UpstreamSurface["shows"]>[0];

  it.each([
    ["a public downstream of another owner", "other", { other: "public" }, true],
    ["a private downstream of another owner", "other", { other: "private" }, false],
    ["a downstream whose visibility is unknown", "other", {}, false],
    ["a private downstream of the upstream's owner", "same-owner", { "same-owner": "private" }, true],
    ["a downstream the map marks private", "marked", { marked: "public" }, false],
  ] as const)("%s: %s", async (_what, id, forge, shown) => {
    const map = fresh(MAP);
    const { vis } = resolver(map, forge as Record<string, Visibility>);

    expect(await new UpstreamSurface(() => map, vis).shows(trigger(id))).toBe(shown);
  });

  it("in a cascade, every project of the chain must be showable", async () => {
    const map = fresh(`${MAP}
  - id: after
    foundation: lf
    github: upco/after
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: other, cascade: true }]
`);
    const { vis } = resolver(map, { other: "private", after: "public" });

    expect(await new UpstreamSurface(() => map, vis).shows(trigger("after", ["up", "other", "after"]))).toBe(false);
  });

  const DECLARED = { file: "github:dec/app/.github/openci.yml", text: "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: up }]\n", location: { forge: "github" as const, repo: "dec/app" } };

  it("a self-declared downstream only with the upstream's consent in the reviewed map", async () => {
    const withConsent = parseMapFiles([{ file: "m.yml", text: freshText(MAP).replace(/(github: upco\d+\/lib)/, "$1\n    report: { declared: true }") }], "m.yml", {}, [DECLARED]).map;
    const without = parseMapFiles([{ file: "m.yml", text: freshText(MAP) }], "m.yml", {}, [DECLARED]).map;
    const forge = { "github:dec/app": "public" } as Record<string, Visibility>;

    expect(without.edge("up", "github:dec/app")?.declared).toBe(true);
    expect(await new UpstreamSurface(() => without, resolver(without, forge).vis).shows(trigger("github:dec/app"))).toBe(false);
    expect(await new UpstreamSurface(() => withConsent, resolver(withConsent, forge).vis).shows(trigger("github:dec/app"))).toBe(true);
  });

  it("an edge a declaration repeats from the reviewed map stays reviewed", () => {
    const map = parseMapFiles([{ file: "m.yml", text: MAP }], "m.yml", {}, [{ ...DECLARED, location: { forge: "github", repo: "otherco/app" } }]).map;

    expect(map.edge("up", "other")?.declared).toBe(false);
  });

  it("a declaration cannot give itself the consent, nor make itself public", () => {
    const text = "trigger: { workflow: ci.yml, ref: main }\nreport: { declared: true }\ndepends_on: [{ project: up }]\n";

    const refused = parseMapFiles([{ file: "m.yml", text: MAP }], "m.yml", {}, [{ ...DECLARED, text }]).refusedDeclarations;
    const marked = parseMapFiles([{ file: "m.yml", text: MAP }], "m.yml", {}, [{ ...DECLARED, text: DECLARED.text.replace("trigger", "visibility: private\ntrigger") }]).map;

    expect(refused.map((p) => p.message).join("\n")).toContain("declared");
    const hostileId = parseMapFiles([{ file: "m.yml", text: MAP }], "m.yml", {}, [{ ...DECLARED, text: `id: "@acme/team [x](http://evil.example)"\n${DECLARED.text}` }]).refusedDeclarations;
    expect(hostileId.map((p) => p.message).join("\n")).toContain("id: must be letters, digits");
    expect(marked.project("github:dec/app")?.visibility).toBe("private");
    expect(() => parseMap(MAP.replace("visibility: private", "visibility: public"))).toThrow(/visibility: can only be 'private'/);
  });

  it("a private upstream triggers only reviewed edges", async () => {
    const privately = parseMapFiles([{ file: "m.yml", text: freshText(MAP) }], "m.yml", {}, [DECLARED]).map;
    const publicly = parseMapFiles([{ file: "m.yml", text: freshText(MAP) }], "m.yml", {}, [DECLARED]).map;
    const privateUp = new UpstreamSurface(() => privately, resolver(privately, { up: "private" }).vis);
    const publicUp = new UpstreamSurface(() => publicly, resolver(publicly, { up: "public" }).vis);
    const map = privately;

    expect(await privateUp.mayTrigger(map.project("up")!, map.edge("up", "github:dec/app")!)).toBe(false);
    expect(await privateUp.mayTrigger(map.project("up")!, map.edge("up", "other")!)).toBe(true);
    expect(await publicUp.mayTrigger(publicly.project("up")!, publicly.edge("up", "github:dec/app")!)).toBe(true);
  });
});

describe("owners", () => {
  it.each([
    [{ forge: "github", repo: "Acme/a" }, { forge: "github", repo: "acme/b" }, true],
    [{ forge: "github", repo: "acme/a" }, { forge: "github", repo: "other/a" }, false],
    [{ forge: "gitlab", project: "grp/sub/a", host: undefined, tokenEnv: undefined }, { forge: "gitlab", project: "grp/b", host: undefined, tokenEnv: undefined }, true],
    [{ forge: "gitlab", project: "grp/a", host: "x.example", tokenEnv: undefined }, { forge: "gitlab", project: "grp/a", host: undefined, tokenEnv: undefined }, false],
    [{ forge: "github", repo: "grp/a" }, { forge: "gitlab", project: "grp/a", host: undefined, tokenEnv: undefined }, false],
  ] as const)("%j and %j: %s", (a, b, same) => {
    expect(sameOwner(a as never, b as never)).toBe(same);
  });
});
