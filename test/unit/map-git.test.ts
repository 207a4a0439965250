import { describe, expect, it } from "@jest/globals";
import { MapError, parseMap } from "../../src/map/load.js";
import { locationKey, ownerKey, placeOf, refOf } from "../../src/map/graph.js";
import { gitUrlProblem } from "../../src/map/git-url.js";

function problems(text: string, options = {}): string[] {
  try {
    parseMap(text, "map.yml", options);
  } catch (error) {
    if (error instanceof MapError) return error.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
    throw error;
  }
  throw new Error("map was accepted");
}

const map = (nova: string, app = "    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: nova }]\n") => `version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
  - id: nova
    foundation: openinfra
${nova}
  - id: app
    foundation: openinfra
    github: acme/app
${app}`;

describe("format v2: an upstream on any git host (git:) and watch:", () => {
  it("reads git: as a place of its own, the URL as the path, and watch.interval in ms", () => {
    const m = parseMap(map("    git: https://OpenDev.org/openstack/nova/\n    watch: { interval: 2m }"));
    const nova = m.project("nova")!;

    expect(nova.location).toEqual({ forge: "git", url: "https://opendev.org/openstack/nova" });
    expect(nova.watch).toEqual({ intervalMs: 120_000 });
    expect(placeOf(nova.location)).toEqual({ forge: "git", repo: "https://opendev.org/openstack/nova" });
    expect(m.projectsAt(refOf({ forge: "git", repo: "https://opendev.org/openstack/nova.git" })).map((p) => p.id)).toEqual(["nova"]);
    expect(m.dependantsFor("nova", "28.0.0").map((d) => d.project.id)).toEqual(["app"]);
    expect(ownerKey(refOf(placeOf(nova.location)))).toBe("git:opendev.org");
    expect(locationKey({ forge: "git", url: "https://opendev.org/openstack/Nova.git" })).toBe(locationKey({ forge: "git", url: "https://opendev.org/openstack/nova" }));
  });

  it("takes http:// on loopback only (a local or test git host)", () => {
    expect(parseMap(map("    git: http://127.0.0.1:8080/nova.git")).project("nova")!.location).toEqual({ forge: "git", url: "http://127.0.0.1:8080/nova.git" });
    expect(gitUrlProblem("http://localhost/nova")).toBeUndefined();
  });

  it.each([
    ["git: http://opendev.org/openstack/nova", "6:10: projects[0].git: asks for http:// on a host other than this machine: use https://"],
    ["git: ssh://opendev.org/openstack/nova", "6:10: projects[0].git: has the scheme ssh://; only https git URLs can be watched"],
    ["git: git@github.com:acme/lib.git", "6:10: projects[0].git: is not a URL: write the address you would `git clone` over https"],
    ["git: https://bot:hunter2@opendev.org/nova", "6:10: projects[0].git: must not carry credentials"],
    ["git: https://opendev.org/nova?ref=main", "6:10: projects[0].git: must have no ?query or #fragment"],
    ["git: https://opendev.org/", "6:10: projects[0].git: names a host but no repository"],
  ])("refuses %s, saying how to write it", (line, expected) => {
    expect(problems(map(`    ${line}`))).toEqual([expect.stringContaining(expected)]);
  });

  it("refuses a git: project with a trigger or dependencies: nothing runs pipelines on a git host", () => {
    const withTrigger = map("    git: https://opendev.org/openstack/nova\n    trigger: { workflow: ci.yml, ref: main }");
    const withDeps = map("    git: https://opendev.org/openstack/nova\n    depends_on: [{ project: app }]", "    trigger: { workflow: ci.yml, ref: main }\n");

    expect(problems(withTrigger)).toEqual([expect.stringContaining("projects[0].trigger: project 'nova' is on a git host (git:), where the relay runs no pipelines: it can only be an upstream")]);
    expect(problems(withDeps)).toEqual([expect.stringContaining("projects[0].depends_on: project 'nova' is on a git host (git:), where the relay runs no pipelines")]);
  });

  it("refuses after_check and pull requests on an edge from a git host", () => {
    const text = map("    git: https://opendev.org/openstack/nova", "    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: nova, after_check: build, on: [tag, pull_request] }]\n");

    expect(problems(text)).toEqual([
      expect.stringContaining("projects[1].depends_on[0].after_check: 'nova' is on a git host (git:), which has no checks to wait for: remove 'after_check'"),
      expect.stringContaining("projects[1].depends_on[0].on: 'nova' is on a git host (git:): the relay sees its tags only"),
    ]);
  });

  it("refuses two places for one project", () => {
    expect(problems(map("    git: https://opendev.org/openstack/nova\n    github: openstack/nova"))).toEqual([
      expect.stringContaining("project 'nova' needs exactly one of 'github: owner/repo', 'gitlab: group/project' or (format v2) 'git: https://host/path'"),
    ]);
  });

  it.each([
    ["watch: { interval: 5 minutes }", {}, "projects[0].watch.interval: must be a duration such as 30m, 6h or 1d"],
    ["watch: { interval: 5s }", {}, "projects[0].watch.interval: 5s is shorter than the shortest interval allowed, 10s (OPENCI_WATCH_MIN_INTERVAL_MS): poll less often"],
    ["watch: { interval: 1s }", { minWatchIntervalMs: 2_000 }, "1s is shorter than the shortest interval allowed, 2s"],
  ])("refuses %s", (line, options, expected) => {
    expect(problems(map(`    git: https://opendev.org/openstack/nova\n    ${line}`), options)).toEqual([expect.stringContaining(expected)]);
  });

  it("refuses an unknown key in watch; the interval may be left out (`watch: {}`: OPENCI_WATCH_INTERVAL_MS)", () => {
    expect(problems(map("    git: https://opendev.org/openstack/nova\n    watch: { every: 2m }"))).toEqual([
      "7:14: projects[0].watch: unknown key 'every': remove it, or use one of: interval",
    ]);
    expect(parseMap(map("    git: https://opendev.org/openstack/nova\n    watch: {}"), "map.yml").project("nova")!.watch).toEqual({});
  });

  it("takes a short watch.interval where the floor is lowered", () => {
    expect(parseMap(map("    git: https://opendev.org/openstack/nova\n    watch: { interval: 1s }"), "map.yml", { minWatchIntervalMs: 500 }).project("nova")!.watch).toEqual({ intervalMs: 1000 });
  });

  it("keeps git: and watch: out of format v1, saying how to have them", () => {
    const v1 = "projects:\n  - { id: nova, git: https://opendev.org/openstack/nova }\n";

    expect(problems(v1)).toEqual([expect.stringContaining("(format v2 keys need 'version: 2' at the top)")]);
  });

  it("reads a format v1 map verbatim, as before", () => {
    const m = parseMap("projects:\n  - { id: lib, github: acme/lib }\n  - { id: tool, gitlab: group/tool, trigger: { ref: main }, depends_on: [{ project: lib, tags: \"v*\" }] }\n");

    expect(m.project("lib")!.location).toEqual({ forge: "github", repo: "acme/lib" });
    expect(m.project("tool")!.location).toEqual({ forge: "gitlab", project: "group/tool", host: undefined, tokenEnv: undefined, webhookSecretEnv: undefined });
    expect(m.project("lib")!.watch).toBeUndefined();
  });
});
