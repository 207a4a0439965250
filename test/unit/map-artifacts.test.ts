import { describe, expect, it } from "@jest/globals";
import { gitlabVariables, triggerInputs } from "../../src/forge/trigger-inputs.js";
import { parseMap } from "../../src/map/load.js";
import { gatedArtifacts } from "../../src/map/edge-artifacts.js";
import { MapError } from "../../src/map/load.js";
import { releaseArtifacts } from "../../src/history/recorder.js";

function problems(text: string): string[] {
  try {
    parseMap(text, "map.yml");
    return [];
  } catch (error) {
    if (error instanceof MapError) return error.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
    throw error;
  }
}

/** An upstream with `artifacts` and a downstream whose edge says `edge`. */
const v2 = (artifacts: string, edge: string) => `version: 2
foundations: [{ id: f, name: F }]
projects:
  - id: up
    foundation: f
    github: acme/up
    artifacts: ${artifacts}
  - id: down
    foundation: f
    github: acme/down
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: up, ${edge} }]
`;

describe("after_artifacts in the map", () => {
  it("takes every artifact (true) or those listed, however the list writes them", () => {
    const artifacts = `["pkg:pypi/Nova@{version}", "pkg:oci/nova-api@{tag}?repository_url=quay.io/kolla/nova-api"]`;
    const all = parseMap(v2(artifacts, "after_artifacts: true"));
    const some = parseMap(v2(artifacts, `after_artifacts: ["pkg:pypi/nova@%7Bversion%7D"]`));

    expect(gatedArtifacts(all.project("up"), all.edge("up", "down")!)).toEqual(["pkg:pypi/Nova@{version}", "pkg:oci/nova-api@{tag}?repository_url=quay.io/kolla/nova-api"]);
    expect(gatedArtifacts(some.project("up"), some.edge("up", "down")!)).toEqual(["pkg:pypi/Nova@{version}"]);
    expect(releaseArtifacts(all.project("up")!, "v29.0.1")).toEqual(["pkg:pypi/nova@29.0.1", "pkg:oci/nova-api@v29.0.1?repository_url=quay.io%2Fkolla%2Fnova-api"]);
  });

  it.each([
    ["a listed artifact the upstream does not have", `["pkg:pypi/nova"]`, `after_artifacts: ["pkg:pypi/glance"]`,
      `12:51: projects[1].depends_on[0].after_artifacts[0]: "pkg:pypi/glance" is not one of 'up''s artifacts (pkg:pypi/nova): after_artifacts lists the upstream's own artifacts`],
    ["an oci artifact without a registry", `["pkg:oci/nova-api@{tag}"]`, "after_artifacts: true",
      `7:17: projects[0].artifacts[0]: "pkg:oci/nova-api@{tag}": an oci artifact names no registry: oci package URLs are registry-agnostic: add repository_url, e.g. pkg:oci/nova-api?repository_url=ghcr.io/<org>/nova-api or ?repository_url=docker.io/library/nova-api. 'down' waits for it (after_artifacts)`],
    ["an upstream without artifacts", "[]", "after_artifacts: true", "12:50: projects[1].depends_on[0].after_artifacts: 'up' lists no artifacts to wait for: add them to its entry"],
    ["a fixed version", `["pkg:npm/lib@1.0.0"]`, "after_artifacts: true", `"pkg:npm/lib@1.0.0": the version "1.0.0" is fixed`],
  ])("refuses %s at load, saying how to fix it", (_what, artifacts, edge, expected) => {
    expect(problems(v2(artifacts, edge))).toEqual([expect.stringContaining(expected)]);
  });

  it("is format v2 only: a v1 edge with after_artifacts is refused as an unknown key; artifacts no edge waits for are not checked", () => {
    const v1 = `projects:\n  - id: up\n    github: acme/up\n  - id: down\n    github: acme/down\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: up, after_artifacts: true }]\n`;

    expect(problems(v1).join("\n")).toMatch(/after_artifacts/);
    expect(problems(v2(`["pkg:oci/kolla/nova-api"]`, `tags: "v*"`))).toEqual([]);
  });
});

describe("what the downstream receives", () => {
  const ctx = { upstreamId: "up", upstreamRepo: "acme/up", tag: "v1", sha: "a".repeat(40), runId: "trigger-1" };
  const artifacts = [{ purl: "pkg:pypi/nova@1", digests: [{ name: "nova-1.tar.gz", digest: `sha256:${"b".repeat(64)}`, cid: "bafkrei…" }] }];

  it("gets openci_artifacts (GitLab: OPENCI_ARTIFACTS) only along an after_artifacts edge, so workflows that do not declare it keep working", () => {
    expect(Object.keys(triggerInputs(ctx))).toEqual(["openci_upstream", "openci_upstream_repo", "openci_tag", "openci_sha", "openci_run_id"]);
    expect(JSON.parse(triggerInputs({ ...ctx, artifacts }).openci_artifacts!)).toEqual(artifacts);
    expect(gitlabVariables({ ...ctx, artifacts }).at(-1)).toEqual({ key: "OPENCI_ARTIFACTS", value: JSON.stringify(artifacts) });
    expect(gitlabVariables(ctx).map((v) => v.key)).not.toContain("OPENCI_ARTIFACTS");
  });
});
