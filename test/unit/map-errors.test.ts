import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { main } from "../../src/cli/main.js";
import { MapError, formatProblem, parseMapFiles } from "../../src/map/load.js";
import { editDistance, nearest } from "../../src/map/nearest.js";

const MAP = new URL("../../fixtures/maps/cross-community.yml", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "openci-map-errors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, {}, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

/** Every problem of the map texts, as `FILE:LINE:COL: message`. */
function problems(texts: Record<string, string>): string[] {
  try {
    parseMapFiles(Object.entries(texts).map(([file, text]) => ({ file, text })), "map");
  } catch (error) {
    if (error instanceof MapError) return error.problems.map(formatProblem);
    throw error;
  }
  throw new Error("the map was accepted");
}

describe("a broken map reports every problem at once", () => {
  it("a key typo, an unknown project and a cycle, in two files, in one run of validate, each at its key or value", async () => {
    const sub = mkdtempSync(join(dir, "map-"));
    const cncf = join(sub, "cncf.yml");
    const more = join(sub, "more.yml");
    writeFileSync(cncf, [
      "version: 2",
      "foundations: [{ id: cncf, name: CNCF }]",
      "projects:",
      "  - id: kubernetes",
      "    foundation: cncf",
      "    github: kubernetes/kubernetes",
      "    trigger: { workflow: ci.yml, ref: master }",
      "    depends_on:",
      "      - project: containerd",
      "  - id: containerd",
      "    foundation: cncf",
      "    github: containerd/containerd",
      "    trigger: { workflow: ci.yml, ref: main }",
      "    depends_on:",
      "      - project: kubernetes",
      "        tgas: 'v*'",
      "",
    ].join("\n"));
    writeFileSync(more, [
      "version: 2",
      "projects:",
      "  - id: cri-o",
      "    foundation: cncf",
      "    github: cri-o/cri-o",
      "    trigger: { workflow: ci.yml, ref: main }",
      "    depends_on:",
      "      - project: kubernetis",
      "",
    ].join("\n"));

    const r = await cli("validate", sub);

    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err.split("\n")).toEqual([
      `${cncf}:16:9: projects[1].depends_on[0]: unknown key 'tgas': did you mean 'tags'?`,
      `${more}:8:18: projects[0].depends_on[0].project: unknown project 'kubernetis': did you mean 'kubernetes'? (or add it to 'projects')`,
      `${cncf}:9:18: projects[0].depends_on[0].project: dependency cycle: kubernetes → containerd → kubernetes (each depends on the one before)`,
      `3 problems in ${sub}`,
      "",
    ]);
  });

  it("checks what a typo holds as the key it suggests, naming it as written", () => {
    const text = [
      "projects:",
      "  - id: a",
      "    github: o/a",
      "    trigger: { event_type: x }",
      "    depnds_on:",
      "      - project: ghost",
      "      - project: b",
      "  - id: b",
      "    github: o/b",
      "    trigger: { event_type: x }",
      "    depends_on: [{ project: a }]",
      "",
    ].join("\n");

    expect(problems({ "v1.yml": text })).toEqual([
      "v1.yml:5:5: projects[0]: unknown key 'depnds_on': did you mean 'depends_on'?",
      "v1.yml:6:18: projects[0].depnds_on[0].project: unknown project 'ghost': add it to 'projects' or fix the id",
      "v1.yml:7:18: projects[0].depnds_on[1].project: dependency cycle: a → b → a (each depends on the one before)",
    ]);
  });

  it("names a top-level typo as one, with the nearest key, and still checks what is under it", () => {
    expect(problems({ "v1.yml": "projets:\n  - id: a\n    github: not-a-repo\n" })).toEqual([
      "v1.yml:1:1: unknown key 'projets': did you mean 'projects'?",
      "v1.yml:3:13: projets[0].github: must be 'owner/repo', e.g. acme/lib",
    ]);
    expect(problems({ "v2.yml": "version: 2\nfoundation: []\nprojects: []\n" })).toEqual([
      "v2.yml:2:1: unknown key 'foundation': did you mean 'foundations'?",
    ]);
  });

  it("suggests the nearest key inside a project and inside an edge, and says what a place takes when nothing is near", () => {
    const text = [
      "version: 2",
      "foundations: [{ id: f, name: F }]",
      "projects:",
      "  - { id: a, foundation: f, githb: o/a }",
      "  - id: b",
      "    foundation: f",
      "    github: o/b",
      "    trigger: { event_type: x }",
      "    depends_on:",
      "      - { project: a, semvr: '>=1', colour: blue }",
      "",
    ].join("\n");

    expect(problems({ "m.yml": text })).toEqual([
      "m.yml:4:29: projects[0]: unknown key 'githb': did you mean 'github'?",
      "m.yml:10:23: projects[1].depends_on[0]: unknown key 'semvr': did you mean 'semver'?",
      "m.yml:10:37: projects[1].depends_on[0]: unknown key 'colour': remove it, or use one of: project, tags, tag_regex, semver, prereleases, on, forks, after_check, after_artifacts, timeout, report, cascade",
    ]);
  });

  it("does not report again what one mistake causes", () => {
    // a project left out (no foundation): edges to it are not 'unknown'; a bad repository is not 'no forge';
    // a self-dependency is not also a cycle; an unreadable file's projects are not 'unknown' elsewhere
    const text = [
      "version: 2",
      "foundations: [{ id: f, name: F }]",
      "projects:",
      "  - { id: a, github: o/a }",
      "  - { id: b, foundation: f, github: not-a-repo }",
      "  - { id: c, foundation: f, github: o/c, trigger: { event_type: x }, depends_on: [{ project: a }, { project: b }, { project: c }] }",
      "",
    ].join("\n");

    expect(problems({ "m.yml": text })).toEqual([
      "m.yml:4:5: projects[0]: 'foundation' is required: add it",
      "m.yml:5:37: projects[1].github: must be 'owner/repo', e.g. acme/lib",
      "m.yml:6:126: projects[2].depends_on[2].project: project 'c' cannot depend on itself",
    ]);
    expect(problems({
      "a.yml": "projects:\n  - id: a\n   github: o/a\n",
      "b.yml": "projects:\n  - { id: b, github: o/b, trigger: { event_type: x }, depends_on: [{ project: a }] }\n",
    })).toEqual([expect.stringMatching(/^a\.yml:3:\d+: YAML: /)]);
  });

  it("still reads a valid v1 map as it did", () => {
    const loaded = parseMapFiles([{ file: "v1.yml", text: "projects:\n  - id: a\n    github: o/a\n  - id: b\n    github: o/b\n    trigger: { event_type: x }\n    depends_on: [{ project: a, tags: 'v*' }]\n" }], "v1.yml");

    expect(loaded.map.dependantsFor("a", "v1.0").map((d) => d.project.id)).toEqual(["b"]);
    expect(loaded.warnings).toEqual([]);
  });
});

describe("an unknown project id in the CLI", () => {
  it("explain and graph suggest the nearest id", async () => {
    expect(await cli("explain", MAP, "kubernetis", "v1.31.0")).toEqual({
      code: 1, out: "", err: `openci-relay explain: ${MAP}: no project 'kubernetis': did you mean kubernetes?\n`,
    });
    expect((await cli("graph", MAP, "--from", "contianerd")).err).toBe(`openci-relay graph: ${MAP}: no project 'contianerd': did you mean containerd?\n`);
    expect((await cli("explain", MAP, "zzz", "v1")).err).toBe(`openci-relay explain: ${MAP}: no project 'zzz'\n`);
  });
});

describe("nearest", () => {
  it("counts a swap of two neighbours as one edit, and suggests only what is near for the word's length", () => {
    expect(editDistance("contianerd", "containerd")).toBe(1);
    expect(editDistance("projets", "projects")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(nearest("projets", ["version", "projects"])).toBe("projects");
    expect(nearest("tgas", ["tags", "tag_regex"])).toBe("tags");
    expect(nearest("om", ["ci", "on"])).toBe("on");
    expect(nearest("abc", ["xyz"])).toBeUndefined();
    expect(nearest("secret", ["secret_env"])).toBeUndefined();
    expect(nearest("Projects", ["projects"])).toBe("projects");
  });
});
