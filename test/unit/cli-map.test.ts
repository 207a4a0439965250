import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { main } from "../../src/cli/main.js";

const MAP = new URL("../../fixtures/maps/cross-community.yml", import.meta.url).pathname;

async function cli(...args: string[]) {
  let out = "";
  let err = "";
  const code = await main(args, {}, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe("openci-relay validate", () => {
  it("passes the real cross-community map and says what it holds", async () => {
    const r = await cli("validate", MAP);

    expect(r).toEqual({ code: 0, out: `${MAP}: valid: 31 projects, 45 edges, 4 foundations in 1 file\n`, err: "" });
  });

  it("fails with every problem as FILE:LINE:COL, and prints warnings without failing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-cli-"));
    try {
      writeFileSync(join(dir, "bad.yml"), "version: 2\nprojects:\n  - { id: a, foundation: nope, github: o/a, trigger: { event_type: x }, depends_on: [{ project: ghost }] }\n");
      writeFileSync(join(dir, "ok.yml"), "version: 2\nfoundations: [{ id: f, name: F }]\nprojects:\n  - { id: lonely, foundation: f, github: o/lonely }\n");
      const bad = await cli("validate", dir);
      rmSync(join(dir, "bad.yml"));
      const warned = await cli("validate", dir);

      expect(bad.code).toBe(1);
      expect(bad.err.split("\n")).toEqual([
        `${join(dir, "bad.yml")}:3:26: projects[0].foundation: unknown foundation 'nope': add it to 'foundations' or fix the id`,
        `${join(dir, "bad.yml")}:3:97: projects[0].depends_on[0].project: unknown project 'ghost': add it to 'projects' or fix the id`,
        `2 problems in ${dir}`,
        "",
      ]);
      expect(warned.code).toBe(0);
      expect(warned.err).toBe(`${join(dir, "ok.yml")}:4:5: warning: projects[0]: project 'lonely' has no upstream and no dependant: nothing will trigger it\n`);
      expect(warned.out).toContain("valid: 1 project, 0 edges, 1 foundation in 1 file, 1 warning");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("openci-relay graph", () => {
  it("draws what a release reaches, as mermaid, dot or json", async () => {
    const mermaid = await cli("graph", MAP, "--from", "odl-controller", "--depth", "2");
    const dot = await cli("graph", MAP, "--from", "runc", "--depth", "1", "--format", "dot");
    const json = JSON.parse((await cli("graph", MAP, "--format", "json")).out) as { projects: unknown[]; edges: { cascade: boolean }[]; foundations: unknown[] };

    expect(mermaid.code).toBe(0);
    expect(mermaid.out).toContain('subgraph f_lfn["LF Networking"]');
    expect(mermaid.out.match(/\["(odl-[a-z]+|onap-sdnc)"\]/g)).toEqual(['["odl-odlparent"]', '["odl-controller"]', '["odl-netconf"]', '["onap-sdnc"]']);
    expect(mermaid.out).toMatch(/p\d+ -\.->\|"tags #quot;v\*#quot;, cascade"\| p\d+/);
    expect(dot.out).toContain('label="The Linux Foundation"');
    expect(dot.out).toContain('"runc" -> "containerd" [label="semver \\">=1.1.0\\""];');
    expect(dot.out).not.toContain("kubernetes");
    expect([json.projects.length, json.edges.length, json.foundations.length]).toEqual([31, 45, 4]);
    expect(json.edges.filter((e) => e.cascade).length).toBeGreaterThan(5);
  });

  it("refuses an unknown project or format", async () => {
    expect(await cli("graph", MAP, "--from", "nope")).toMatchObject({ code: 1, err: expect.stringContaining("no project 'nope'") });
    expect(await cli("graph", MAP, "--format", "png")).toMatchObject({ code: 2, err: expect.stringContaining("--format must be one of mermaid, dot, json") });
  });
});

describe("openci-relay explain", () => {
  it("says which dependants a tag triggers and why, which not and why, and what cascades", async () => {
    const r = await cli("explain", MAP, "kubernetes", "v1.31.0");

    expect(r.code).toBe(0);
    expect(r.out).toContain('  ✓ kata-containers: semver ">=1.29.0" matches v1.31.0, on tag; triggered at once\n');
    expect(r.out).toContain('  ✗ starlingx-config: semver "~1.29.0 || ~1.30.0" does not match v1.31.0\n');
    expect(r.out).toContain("    ↳ chained-ci: cascades when onap-oom's run passes (hop 2 of at most 5)\n");
  });

  it("tells tag from release, and knows prereleases", async () => {
    const tag = await cli("explain", MAP, "nova", "30.0.0");
    const rc = await cli("explain", MAP, "containerd", "v2.1.0-rc.1");

    expect(tag.out).toContain("  ✗ functest: its edge reacts to release, not tag\n");
    expect(rc.out).toContain('  ✗ kubernetes: semver ">=1.7.0" (prereleases left out) does not match v2.1.0-rc.1\n');
    expect(rc.out).toContain("  ✗ kata-containers: semver \">=1.7.0\" does not match v2.1.0-rc.1\n");
  });

  it("exits 2 on wrong usage and 1 on an unknown project", async () => {
    expect((await cli("explain", MAP, "nova")).code).toBe(2);
    expect((await cli("explain", MAP, "nova", "1.0", "--event", "push")).code).toBe(2);
    expect(await cli("explain", MAP, "ghost", "1.0")).toMatchObject({ code: 1, err: expect.stringContaining("no project 'ghost'") });
    expect((await cli("frobnicate")).code).toBe(2);
  });
});
