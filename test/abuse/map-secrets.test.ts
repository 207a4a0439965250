import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { ConfigError, parseEnv } from "../../src/config/env.js";
import { MapError, parseMap, parseMapFiles } from "../../src/map/load.js";
import { mapOptionsOf } from "../../src/map/map-options.js";
import { isRelayOwnVariable } from "../../src/map/secret-names.js";
import { appPrivateKey } from "../helpers/keys.js";
import { GITHUB_TO_GITLAB_MAP } from "../helpers/maps.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

const VALID_ENV = { APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "w" };
const problemsOf = (text: string, env: Record<string, string> = {}) => {
  try {
    parseMap(text, "map.yml", mapOptionsOf(parseEnv({ ...VALID_ENV, ...env })));
    return [];
  } catch (error) {
    if (!(error instanceof MapError)) throw error;
    return error.problems.map((p) => p.message);
  }
};

/** One map naming `name` in each place a map may name a secret (the subscriber's: `sinkSecret` at `sinkHost`). */
const namingEverywhere = (name: string, sinkSecret = name, sinkHost = "ops.example") => `version: 2
foundations: [{ id: f, name: F }]
projects:
  - { id: up, foundation: f, github: acme/up }
  - id: down
    foundation: f
    gitlab: { host: other.example, project: group/down, token_env: ${name}, webhook_secret_env: ${name} }
    trigger: { ref: main, token_env: ${name} }
    depends_on: [{ project: up }]
subscribers:
  - { id: ops, url: "https://${sinkHost}/hook", secret_env: ${sinkSecret} }
`;

describe("the map names only secrets of its own (issue 16, finding 3)", () => {
  it.each(["GITLAB_TOKEN", "PRIVATE_KEY", "OPENCI_ADMIN_TOKEN", "WEBHOOK_SECRET", "GITLAB_WEBHOOK_SECRET", "REDIS_URL", "GHE_HOST", "OPENCI_READ_TOKEN"])(
    "refuses %s in token_env, webhook_secret_env, a trigger's token_env and a subscriber's secret_env, saying why",
    (name) => {
      const problems = problemsOf(namingEverywhere(name));

      expect(problems).toEqual([
        `projects[1].gitlab.token_env: ${name} is the relay's own configuration and is never sent to a project or subscriber: put this secret in a variable of its own (e.g. ${name.replace(/^(OPENCI|GHE|REDIS|GITLAB)_/, "")}_FOR_MY_GROUP) and name that`,
        expect.stringMatching(new RegExp(`^projects\\[1\\]\\.gitlab\\.webhook_secret_env: ${name} is the relay's own configuration`)),
        expect.stringMatching(new RegExp(`^projects\\[1\\]\\.trigger\\.token_env: ${name} is the relay's own configuration`)),
        expect.stringMatching(new RegExp(`^subscribers\\[0\\]\\.secret_env: ${name} is the relay's own configuration`)),
      ]);
    },
  );

  it("refuses every variable .env.example documents, and takes a variable of the map's own", () => {
    const documented = [...readFileSync(".env.example", "utf8").matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);

    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((name) => !isRelayOwnVariable(name))).toEqual([]);
    expect(problemsOf(namingEverywhere("DOWN_GROUP_SECRET", "OPS_SECRET"))).toEqual([]);
  });

  it("sends one variable to one host only: the same name for two hosts is refused", () => {
    const text = namingEverywhere("DOWN_SECRET", "DOWN_SECRET", "elsewhere.example");

    expect(problemsOf(text)).toEqual([
      "subscribers[0].secret_env: DOWN_SECRET is already named for other.example (projects.1.gitlab.token_env in map.yml); a secret goes to one host only: name a variable of its own for elsewhere.example",
    ]);
  });

  it("takes only what OPENCI_MAP_SECRETS lists, when it is set", () => {
    const env = { OPENCI_MAP_SECRETS: "DOWN_SECRET, OPS_SECRET" };

    expect(problemsOf(namingEverywhere("DOWN_SECRET", "OPS_SECRET"), env)).toEqual([]);
    expect(problemsOf(namingEverywhere("DOWN_SECRET", "AWS_SECRET_ACCESS_KEY"), env)).toEqual([
      "subscribers[0].secret_env: AWS_SECRET_ACCESS_KEY is not in OPENCI_MAP_SECRETS, the variables the relay's operators let the map name: add it there, or name one listed",
    ]);
    expect(() => parseEnv({ ...VALID_ENV, OPENCI_MAP_SECRETS: "DOWN_SECRET,GITLAB_TOKEN" })).toThrow(ConfigError);
    expect(() => parseEnv({ ...VALID_ENV, OPENCI_MAP_SECRETS: "DOWN_SECRET,GITLAB_TOKEN" })).toThrow(
      "  - OPENCI_MAP_SECRETS lists GITLAB_TOKEN, the relay's own configuration, which the map may never name: remove it\n",
    );
  });

  it.each(["GITLAB_TOKEN", "PRIVATE_KEY", "OPENCI_ADMIN_TOKEN", "DOWN_TRIGGER_TOKEN"])(
    "refuses a declaration naming %s, even on a project the map places on another GitLab host",
    (name) => {
      const map = "version: 2\nfoundations: [{ id: f, name: F }]\nprojects:\n  - { id: up, foundation: f, github: acme/up }\n  - { id: down, foundation: f, gitlab: { host: other.example, project: group/down, token_env: DOWN_TOKEN } }\n";
      const declaration = { file: "gitlab:other.example/group/down/.gitlab/openci.yml", location: { forge: "gitlab" as const, project: "group/down", host: "other.example", tokenEnv: "DOWN_TOKEN" },
        text: `trigger: { ref: main, token_env: ${name} }\ndepends_on: [{ project: up }]\n` };

      const loaded = parseMapFiles([{ file: "map.yml", text: map }], "map.yml", {}, [declaration]);

      expect(loaded.refusedDeclarations.map((p) => `${p.line}:${p.column}: ${p.message}`)).toEqual([
        "1:34: trigger.token_env: a declaration may not name a secret: ask the relay's operators to name this pipeline trigger token in the reviewed map (trigger: { token_env }), and leave it out here",
      ]);
      expect(loaded.map.upstreamsOf("down")).toEqual([]);
    },
  );
});

const startHarness = useHarness();

describe("a pipeline trigger token travels in the body, to its project's host only", () => {
  it("is posted in the request body, never in a URL, and GitLab sees it nowhere else", async () => {
    const token = "glptt-tool-trigger-0123456789";
    const h = await startHarness({
      map: GITHUB_TO_GITLAB_MAP.replace("trigger: { ref: main }", "trigger: { ref: main, token_env: TOOL_TRIGGER_TOKEN }"),
      repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"],
      gitlabTriggerTokens: { "group/tool": token }, env: { TOOL_TRIGGER_TOKEN: token },
    });

    await h.send("create.tag");
    const pipeline = await waitFor("a pipeline", () => h.gitlab!.pipelines[0]);
    await waitFor("the check in progress", () => downstreamChecks(h.github).find((c) => c.status === "in_progress"));
    const [trigger] = h.gitlab!.calls("trigger_pipeline");

    expect(pipeline.source).toBe("trigger");
    expect(trigger!.query).toBe("");
    expect(trigger!.params.token).toBe(token);
    expect(h.gitlab!.requests.filter((r) => r.query.includes(token) || JSON.stringify(r.headers).includes(token))).toEqual([]);
    expect(h.gitlab!.requests.filter((r) => r !== trigger && JSON.stringify(r.params).includes(token))).toEqual([]);
    expect(h.gitlab!.problems).toEqual([]);
  });
});
