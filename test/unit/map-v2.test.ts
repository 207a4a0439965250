import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { MapError, loadMap, parseMap } from "../../src/map/load.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "openci-map-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof MapError) return error.problems.map((p) => `${p.file.replace(/^.*openci-map-[^/]+\//, "")}:${p.line}:${p.column}: ${p.message}`);
    throw error;
  }
  throw new Error("map was accepted");
}

const V2 = `version: 2
foundations:
  - { id: openinfra, name: OpenInfra Foundation, url: https://openinfra.dev }
  - { id: cncf, name: Cloud Native Computing Foundation }
projects:
  - id: keystone
    foundation: openinfra
    github: openstack/keystone
    homepage: https://docs.openstack.org/keystone/latest/
    description: OpenStack Identity
    contact: openstack-discuss@lists.openstack.org
    ci: zuul
    artifacts: ["pkg:pypi/keystone"]
  - id: nova
    foundation: openinfra
    github: openstack/nova
    artifacts: ["pkg:pypi/nova", "pkg:oci/kolla/nova-api"]
    trigger: { event_type: openci }
    depends_on:
      - project: keystone
        semver: ">=26.0.0 <27"
      - project: containerd
        tag_regex: "v\\\\d+\\\\.\\\\d+\\\\.\\\\d+"
        on: [release]
  - id: containerd
    foundation: cncf
    github: containerd/containerd
    ci: github-actions
  - id: kolla
    foundation: openinfra
    gitlab: openinfra/kolla
    trigger: { ref: master }
    depends_on:
      - { project: nova, tags: "*", cascade: true, on: [tag, pull_request], forks: true }
`;

describe("dependency map v2", () => {
  it("reads foundations, project metadata and every kind of edge filter", () => {
    const map = parseMap(V2, "map.yml");

    expect(map.foundations().map((f) => f.id)).toEqual(["openinfra", "cncf"]);
    expect(map.project("keystone")?.meta).toMatchObject({ foundation: "openinfra", ci: "zuul", artifacts: ["pkg:pypi/keystone"], contact: "openstack-discuss@lists.openstack.org" });
    expect(map.dependantsFor("keystone", "26.1.0").map((d) => d.project.id)).toEqual(["nova"]);
    expect(map.dependantsFor("keystone", "27.0.0")).toEqual([]);
    expect(map.dependantsFor("keystone", "26.1.0-rc1")).toEqual([]);
    // on: [release] only
    expect(map.dependantsFor("containerd", "v2.1.0", "tag")).toEqual([]);
    expect(map.dependantsFor("containerd", "v2.1.0", "release").map((d) => d.project.id)).toEqual(["nova"]);
    expect(map.dependantsFor("containerd", "v2.1.0-beta.0", "release").map((d) => d.project.id)).toEqual([]);
    expect(map.pullRequestDependants("nova").map((d) => [d.project.id, d.edge.pull_requests, d.edge.cascade])).toEqual([["kolla", { forks: true }, true]]);
    expect(map.upstreamsOf("nova").map((e) => e.upstream)).toEqual(["keystone", "containerd"]);
  });

  it("merges a folder of files, one per foundation, references crossing files", () => {
    const dir = folder({
      "cncf.yml": "version: 2\nfoundations: [{ id: cncf, name: CNCF }]\nprojects:\n  - { id: containerd, foundation: cncf, github: containerd/containerd }\n",
      "openinfra/nova.yaml": "version: 2\nfoundations: [{ id: openinfra, name: OpenInfra }]\nprojects:\n  - id: nova\n    foundation: openinfra\n    github: openstack/nova\n    trigger: { event_type: openci }\n    depends_on: [{ project: containerd }]\n",
      "README.md": "not a map",
    });

    const { map, files, warnings } = loadMap(dir);

    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(["cncf.yml", "openinfra/nova.yaml"]);
    expect(map.dependantsFor("containerd", "v2.0.0").map((d) => d.project.id)).toEqual(["nova"]);
    expect(warnings).toEqual([]);
  });

  it("reports every problem of every file at once, each at its file, line and column", () => {
    const dir = folder({
      "a.yml": "version: 2\nfoundations: [{ id: lf, name: LF }]\nprojects:\n  - { id: vpp, foundation: lf, github: FDio/vpp }\n",
      "b.yml": [
        "version: 2",
        "projects:",
        "  - { id: vpp, foundation: lf, github: FDio/vpp }",
        "  - id: csit",
        "    foundation: fdio",
        "    github: FDio/csit",
        "    trigger: { event_type: openci }",
        "    depends_on:",
        "      - { project: vpp, tags: 'v*', semver: '>=1' }",
        "      - { project: ghost, tag_regex: 'v(1' }",
        "",
      ].join("\n"),
      "c.yml": "projects:\n  - id: old\n    github: o/old\n    foundation: lf\n",
    });

    expect(problems(() => loadMap(dir))).toEqual([
      "c.yml:4:5: projects[0]: unknown key 'foundation' (format v2 keys need 'version: 2' at the top)",
      "b.yml:3:11: projects[0].id: duplicate id 'vpp' (first used by projects[0] in " + join(dir, "a.yml") + ")",
      "b.yml:5:17: projects[1].foundation: unknown foundation 'fdio': add it to 'foundations' or fix the id",
      "b.yml:9:45: projects[1].depends_on[0].semver: use one of tags, semver: an edge has a single tag filter",
      "b.yml:10:20: projects[1].depends_on[1].project: unknown project 'ghost': add it to 'projects' or fix the id",
      "b.yml:10:38: projects[1].depends_on[1].tag_regex: is not a valid regular expression (Invalid regular expression: /v(1/u: Unterminated group)",
    ]);
  });

  it("prints the path of a dependency cycle", () => {
    const map = `version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: a, foundation: f, github: o/a, trigger: { event_type: x }, depends_on: [{ project: c }] }
  - { id: b, foundation: f, github: o/b, trigger: { event_type: x }, depends_on: [{ project: a }] }
  - { id: c, foundation: f, github: o/c, trigger: { event_type: x }, depends_on: [{ project: b }] }
`;
    const found = problems(() => parseMap(map, "map.yml"));

    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^map\.yml:[456]:\d+: projects\[[012]\]\.depends_on\[0\]\.project: dependency cycle: (a → b → c → a|b → c → a → b|c → a → b → c) \(each depends on the one before\)$/);
  });

  it("refuses a cascade chain over the hop limit, naming the chain", () => {
    const chain = ["up", "d1", "d2", "d3"];
    const projects = chain.map((id, i) => i === 0
      ? `  - { id: ${id}, foundation: f, github: o/${id} }`
      : `  - { id: ${id}, foundation: f, github: o/${id}, trigger: { event_type: x }, depends_on: [{ project: ${chain[i - 1]}${i > 1 ? ", cascade: true" : ""} }] }`);
    const text = (limit: number) => `version: 2\nsettings: { cascade_hop_limit: ${limit} }\nfoundations: [{ id: f, name: F }]\nprojects:\n${projects.join("\n")}\n`;

    expect(parseMap(text(3), "map.yml").cascadeHopLimit).toBe(3);
    expect(problems(() => parseMap(text(2), "map.yml"))).toEqual([
      expect.stringMatching(/^map\.yml:8:\d+: projects\[3\]\.depends_on\[0\]\.cascade: cascade chain of 3 hops is over the hop limit 2: up → d1 → d2 → d3$/),
    ]);
  });

  it("warns about orphans, empty foundations and cascades nothing can start", () => {
    const { warnings } = loadMap(folder({
      "m.yml": `version: 2
foundations: [{ id: f, name: F }, { id: empty, name: Empty }]
projects:
  - { id: lonely, foundation: f, github: o/lonely }
  - { id: up, foundation: f, github: o/up }
  - { id: down, foundation: f, github: o/down, trigger: { event_type: x }, depends_on: [{ project: up, cascade: true }] }
`,
    }));

    expect(warnings.map((w) => `${w.line}: ${w.message}`)).toEqual([
      "4: projects[0]: project 'lonely' has no upstream and no dependant: nothing will trigger it",
      "2: foundations[1]: foundation 'empty' has no project",
      "6: projects[2].depends_on[0].cascade: 'up' has no upstream, so no run of it is started by the relay and nothing cascades from it",
    ]);
  });

  it("tells which version it reads", () => {
    expect(problems(() => parseMap("version: 3\nprojects: []\n", "map.yml"))).toEqual(["map.yml:1:10: version: must be 1 or 2 (or left out for 1)"]);
  });
});
