import { describe, expect, it } from "@jest/globals";
import { parseMapFiles, type DeclarationText } from "../../src/map/load.js";

const MAP = `version: 2
foundations: [{ id: cncf, name: CNCF }]
projects:
  - { id: kubernetes, foundation: cncf, github: kubernetes/kubernetes }
  - { id: containerd, foundation: cncf, github: containerd/containerd }
  - id: kata
    foundation: cncf
    github: kata-containers/kata-containers
    trigger: { workflow: old.yml, ref: main }
    depends_on: [{ project: containerd, tags: "v1*" }]
`;
const decl = (repo: string, text: string): DeclarationText => ({ file: `github:${repo}/.github/openci.yml`, text, location: { forge: "github", repo } });
const load = (...declarations: DeclarationText[]) => parseMapFiles([{ file: "map.yml", text: MAP }], "map", {}, declarations);

describe("downstream declarations", () => {
  it("add a mapped repository's own edges and trigger; an edge it declares again is its own", () => {
    const { map, refusedDeclarations } = load(decl("kata-containers/kata-containers", `
trigger: { workflow: ci.yml, ref: main }
depends_on:
  - { project: containerd, semver: ">=2.0.0" }
  - { project: kubernetes, tags: "v*" }
`));

    expect(refusedDeclarations).toEqual([]);
    expect(map.project("kata")?.trigger).toEqual({ workflow: "ci.yml", ref: "main" });
    expect(map.dependantsFor("containerd", "v1.7.0").map((d) => d.project.id)).toEqual([]);
    expect(map.dependantsFor("containerd", "v2.1.0").map((d) => d.project.id)).toEqual(["kata"]);
    expect(map.dependantsFor("kubernetes", "v1.31.0").map((d) => d.project.id)).toEqual(["kata"]);
    expect(map.project("kata")?.meta?.foundation).toBe("cncf");
  });

  it("bring in a repository the map does not list, under its namespaced id (github:owner/repo)", () => {
    const { map, refusedDeclarations } = load(
      decl("acme/operator", "trigger: { event_type: openci }\ndepends_on: [{ project: kubernetes }]\n"),
      decl("acme/tool", "trigger: { event_type: openci }\ndepends_on: [{ project: \"github:acme/operator\", cascade: true }]\n"),
    );

    expect(refusedDeclarations).toEqual([]);
    expect(map.dependantsFor("kubernetes", "v1.31.0").map((d) => d.project.id)).toEqual(["github:acme/operator"]);
    expect(map.project("github:acme/tool")?.location).toEqual({ forge: "github", repo: "acme/tool" });
    expect(map.allDependants("github:acme/operator").map((d) => [d.project.id, d.edge.cascade])).toEqual([["github:acme/tool", true]]);
  });

  it("speak only for their own repository: a repository the map does not list cannot choose its id", () => {
    const { map, refusedDeclarations } = load(decl("evil/x", "id: kubernetes\ntrigger: { event_type: x }\ndepends_on: [{ project: containerd }]\n"));

    expect(refusedDeclarations.map((p) => p.message)).toEqual([
      "id: refused: only the reviewed map gives ids, and it does not list this repository, so its id is 'github:evil/x'; leave 'id' out (or ask the map's maintainers to list it)",
    ]);
    expect(map.project("kubernetes")?.location).toEqual({ forge: "github", repo: "kubernetes/kubernetes" });
    expect(map.projectsAt({ forge: "github", repo: "evil/x" })).toEqual([]);
    expect(map.dependantsFor("containerd", "v1.7.0").map((d) => d.project.id)).toEqual(["kata"]);
  });

  it("leave out a declaration with problems, say which, and keep the rest of the map", () => {
    const { map, refusedDeclarations } = load(
      decl("acme/a", "trigger: { event_type: openci }\ndepends_on: [{ project: ghost }]\n"),
      decl("acme/b", "depends_on: [{ project: kubernetes }]\n"),
      decl("kata-containers/kata-containers", "id: kata-containers\ntrigger: { event_type: x }\ndepends_on: [{ project: kubernetes }]\n"),
      decl("containerd/containerd", "trigger: { event_type: x }\ndepends_on: [{ project: kata }]\n"),
    );

    expect(refusedDeclarations.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      "github:acme/a/.github/openci.yml:2: depends_on[0].project: unknown project 'ghost': add it to 'projects' or fix the id",
      "github:acme/b/.github/openci.yml:1: 'trigger' is required: add it",
      "github:kata-containers/kata-containers/.github/openci.yml:1: id: this repository is 'kata' in the map; leave 'id' out or use that",
      expect.stringMatching(/^github:containerd\/containerd\/\.github\/openci\.yml:\d+: .*dependency cycle: .*(containerd → kata|kata → containerd)/),
    ]);
    expect(map.size).toBe(3);
    expect(map.dependantsFor("containerd", "v1.7.0").map((d) => d.project.id)).toEqual(["kata"]);
  });
});
