import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { MapError, parseMap } from "../../src/map/load.js";

const example = readFileSync(new URL("../../fixtures/maps/v1-example.yml", import.meta.url), "utf8");

function problems(text: string): string {
  try {
    parseMap(text, "map.yml");
  } catch (error) {
    if (error instanceof MapError) return error.message;
    throw error;
  }
  throw new Error("map was accepted");
}

describe("dependency map v1", () => {
  it("accepts the issue's example verbatim, after_check and GitLab included", () => {
    const map = parseMap(example);

    expect(map.size).toBe(4);
    expect(map.dependantsFor("acme/lib", "v1.2.0").map((d) => d.project.id)).toEqual(["acme/app", "acme/gated", "gl/tool"]);
    expect(map.dependantsFor("acme/lib", "v1.2.0")[1]?.edge.after_check).toBe("build");
    expect(map.project("gl/tool")?.location).toEqual({ forge: "gitlab", project: "group/tool", host: undefined, tokenEnv: undefined });
    expect(map.projectsAt({ forge: "github", repo: "ACME/Lib" }).map((p) => p.id)).toEqual(["acme/lib"]);
  });

  it("ships the same graph, in format v2, as the default map (openci-map.yml)", () => {
    const text = readFileSync(new URL("../../openci-map.yml", import.meta.url), "utf8");
    const shipped = parseMap(text, "openci-map.yml");
    const v1 = parseMap(example);
    const dependants = (m: typeof v1) => m.dependantsFor("acme/lib", "v1.2.0").map((d) => [d.project.id, d.edge.after_check ?? null]);

    expect(text).toMatch(/^version: 2$/m);
    expect(shipped.size).toBe(v1.size);
    expect(dependants(shipped)).toEqual(dependants(v1));
    expect(shipped.project("gl/tool")?.location).toEqual(v1.project("gl/tool")?.location);
  });

  it.each([
    ["an unknown project reference", "projects:\n  - id: a\n    github: o/a\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on:\n      - project: nope\n",
      "map.yml:6:18: projects[0].depends_on[0].project: unknown project 'nope'"],
    ["a duplicate id", "projects:\n  - id: a\n    github: o/a\n  - id: a\n    github: o/b\n",
      "map.yml:4:9: projects[1].id: duplicate id 'a' (first used by projects[0])"],
    ["a misspelt key", "projects:\n  - id: a\n    github: o/a\n    depend_on: []\n",
      "map.yml:4:5: projects[0]: unknown key 'depend_on': did you mean 'depends_on'?"],
    ["a bad repository", "projects:\n  - id: a\n    github: not-a-repo\n",
      "map.yml:3:13: projects[0].github: must be 'owner/repo'"],
    ["a project on no forge", "projects:\n  - id: a\n",
      "map.yml:2:5: projects[0]: project 'a' needs exactly one of"],
    ["a downstream without trigger", "projects:\n  - id: a\n    github: o/a\n  - id: b\n    github: o/b\n    depends_on: [{ project: a }]\n",
      "map.yml:4:5: projects[1]: project 'b' has depends_on but no 'trigger'"],
    ["a workflow without ref", "projects:\n  - id: a\n    github: o/a\n  - id: b\n    github: o/b\n    trigger: { workflow: ci.yml }\n    depends_on: [{ project: a }]\n",
      "needs 'ref'"],
    ["a GitLab project with a workflow", "projects:\n  - id: a\n    github: o/a\n  - id: b\n    gitlab: g/b\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: a }]\n",
      "a GitLab project is triggered by 'ref' only"],
    ["a self-dependency", "projects:\n  - id: a\n    github: o/a\n    trigger: { event_type: x }\n    depends_on: [{ project: a }]\n",
      "cannot depend on itself"],
    ["broken YAML", "projects:\n  - id: a\n   github: o/a\n", "map.yml:3:"],
    ["a duplicate key", "projects:\n  - id: a\n    id: b\n    github: o/a\n", "map.yml:3:5: YAML: Map keys must be unique"],
    ["a bad timeout", "projects:\n  - id: a\n    github: o/a\n  - id: b\n    github: o/b\n    trigger: { event_type: x }\n    depends_on: [{ project: a, timeout: soon }]\n",
      "timeout: must be a duration such as 30m, 6h or 1d"],
    ["a path that walks out", "projects:\n  - id: a\n    gitlab: group/../admin\n", "projects[0].gitlab: must be a GitLab project path"],
    ["a dot-only repository", "projects:\n  - id: a\n    github: acme/..\n", "projects[0].github: must be 'owner/repo'"],
    ["a trigger token on a GitHub project", "projects:\n  - id: a\n    github: o/a\n  - id: b\n    github: o/b\n    trigger: { event_type: x, token_env: TOKEN }\n    depends_on: [{ project: a }]\n",
      "projects[1].trigger.token_env: 'token_env' names a GitLab pipeline trigger token"],
    ["a secret written in the map", "projects:\n  - id: a\n    gitlab: { project: g/a, webhook_secret_env: 's3cr3t value' }\n",
      "webhook_secret_env: must name an environment variable"],
  ])("rejects %s with file, line and problem", (_what, text, expected) => {
    expect(problems(text)).toContain(expected);
  });

  it("reads the long GitLab form: host, token and webhook secret variables, trigger token", () => {
    const map = parseMap([
      "projects:",
      "  - id: lib",
      "    gitlab: { host: GitLab.Example.org, project: group/lib, token_env: EXAMPLE_TOKEN, webhook_secret_env: LIB_SECRET }",
      "  - id: app",
      "    gitlab: { project: group/app }",
      "    trigger: { ref: main, token_env: APP_TRIGGER }",
      "    depends_on: [{ project: lib, after_check: pipeline }]",
    ].join("\n"));

    expect(map.project("lib")?.location).toEqual({
      forge: "gitlab", project: "group/lib", host: "gitlab.example.org", tokenEnv: "EXAMPLE_TOKEN", webhookSecretEnv: "LIB_SECRET",
    });
    expect(map.project("app")?.trigger?.token_env).toBe("APP_TRIGGER");
    expect(map.projectsAt({ forge: "gitlab", project: "group/lib", host: "gitlab.example.org" }).map((p) => p.id)).toEqual(["lib"]);
    expect(map.projectsAt({ forge: "gitlab", project: "group/app" }).map((p) => p.id)).toEqual(["app"]);
    expect(map.dependantsFor("lib", "v1")[0]?.edge.after_check).toBe("pipeline");
  });

  it("lists every problem at once", () => {
    const message = problems("projects:\n  - id: a\n  - id: a\n    github: o/a\n");

    expect(message.split("\n").filter((l) => l.startsWith("  map.yml:"))).toHaveLength(2);
  });
});
