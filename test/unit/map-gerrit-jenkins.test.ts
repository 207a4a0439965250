import { describe, expect, it } from "@jest/globals";
import { MapError, parseMap } from "../../src/map/load.js";
import { locationKey, ownerKey, placeOf, refOf, runPlaceOf } from "../../src/map/graph.js";

function problems(text: string, options = {}): string[] {
  try {
    parseMap(text, "map.yml", options);
  } catch (error) {
    if (error instanceof MapError) return error.problems.map((p) => p.message);
    throw error;
  }
  throw new Error("map was accepted");
}

const NOVA = "    gerrit: { url: https://review.opendev.org, project: openstack/nova }";
const JENKINS = "    trigger: { jenkins: { url: https://build.opnfv.org/ci, job: functest/kata, user_env: JENKINS_USER, token_env: JENKINS_TOKEN } }";

const map = (nova: string, functest: string) => `version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
  - id: nova
    foundation: openinfra
${nova}
  - id: functest
    foundation: openinfra
${functest}
`;

describe("format v2: Gerrit upstreams (gerrit:) and Jenkins downstreams (trigger: { jenkins }) — issue 20", () => {
  it("reads a Gerrit project as a place of its own: the server's URL (with its context path) the host, the project the path", () => {
    const m = parseMap(map(
      "    gerrit:\n      url: https://gerrit.onap.org/r/\n      project: oom\n      user_env: ONAP_USER\n      password_env: ONAP_PASSWORD\n      ssh: { user_env: ONAP_SSH_USER, key_env: ONAP_SSH_KEY }\n      zuul: { url: https://zuul.example.org, tenant: onap }\n      vote: true",
      `    gerrit: { url: https://review.opendev.org, project: openstack/functest }\n${JENKINS}\n    depends_on: [{ project: nova, after_check: release }]`,
    ));
    const nova = m.project("nova")!;

    expect(nova.location).toEqual({
      forge: "gerrit", url: "https://gerrit.onap.org/r", project: "oom", userEnv: "ONAP_USER", passwordEnv: "ONAP_PASSWORD",
      ssh: { userEnv: "ONAP_SSH_USER", keyEnv: "ONAP_SSH_KEY", port: 29418 }, zuul: { url: "https://zuul.example.org", tenant: "onap" }, vote: true,
    });
    expect(placeOf(nova.location)).toEqual({ forge: "gerrit", repo: "oom", host: "https://gerrit.onap.org/r" });
    // Found again however the server's URL is written (scheme and host fold; the project's case does not).
    expect(m.projectsAt(refOf({ forge: "gerrit", repo: "oom", host: "https://GERRIT.onap.org/r/" })).map((p) => p.id)).toEqual(["nova"]);
    expect(m.projectsAt(refOf({ forge: "gerrit", repo: "OOM", host: "https://gerrit.onap.org/r" }))).toEqual([]);
    expect(ownerKey(refOf(placeOf(nova.location)))).toBe("gerrit:gerrit.onap.org/oom");
    expect(locationKey({ forge: "gerrit", url: "https://review.opendev.org", project: "a/b" })).not.toBe(locationKey({ forge: "gerrit", url: "https://review.opendev.org/r", project: "a/b" }));
    // A Gerrit project runs its pipelines where its trigger says: a Jenkins job on that server.
    expect(runPlaceOf(m.project("functest")!)).toEqual({ forge: "jenkins", repo: "functest/kata", host: "https://build.opnfv.org/ci" });
    expect(m.dependantsFor("nova", "13.0.0").map((d) => d.project.id)).toEqual(["functest"]);
  });

  it("pins the stream's SSH host key where the map gives it", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAAKEKEYFORTHETESTONLYxxxxxxxxxxxxxxxxxxxxx";
    const m = parseMap(map(`    gerrit: { url: https://review.opendev.org, project: openstack/nova, ssh: { user_env: U, key_env: K, host_key: "${key}" } }`, "    github: acme/functest"));
    expect(m.project("nova")!.location).toMatchObject({ ssh: { userEnv: "U", keyEnv: "K", port: 29418, hostKey: key } });
  });

  it("takes watch: { interval } on a Gerrit upstream: its own poll interval", () => {
    const m = parseMap(map(`${NOVA}\n    watch: { interval: 2m }`, "    github: acme/functest"));
    expect(m.project("nova")!.watch).toEqual({ intervalMs: 120_000 });
  });

  it("runs a GitHub project's pipeline on Jenkins when its trigger says so, else on GitHub", () => {
    const m = parseMap(map(NOVA, `    github: acme/functest\n${JENKINS}\n    depends_on: [{ project: nova }]`));
    expect(runPlaceOf(m.project("functest")!)).toEqual({ forge: "jenkins", repo: "functest/kata", host: "https://build.opnfv.org/ci" });
    const plain = parseMap(map(NOVA, "    github: acme/functest\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: nova }]"));
    expect(runPlaceOf(plain.project("functest")!)).toEqual({ forge: "github", repo: "acme/functest" });
  });

  it.each([
    ["a Gerrit project with dependencies but no Jenkins trigger", map(NOVA, "    gerrit: { url: https://review.opendev.org, project: x/functest }\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: nova }]"),
      "projects[1].trigger: project 'functest' is on Gerrit, which runs no pipelines: say where its CI runs with 'trigger: { jenkins: { url, job, user_env, token_env } }'"],
    ["a Jenkins trigger that also names a workflow", map(NOVA, "    github: acme/functest\n    trigger: { workflow: ci.yml, jenkins: { url: https://j.example.org, job: a, user_env: U, token_env: T } }\n    depends_on: [{ project: nova }]"),
      "projects[1].trigger.workflow: 'workflow' is for a GitHub or GitLab pipeline; a Jenkins job is started with its build parameters: remove 'workflow'"],
    ["both an API token and a password", map(NOVA, "    github: acme/functest\n    trigger: { jenkins: { url: https://j.example.org, job: a, user_env: U, token_env: T, password_env: P } }\n    depends_on: [{ project: nova }]"),
      "projects[1].trigger.jenkins.password_env: name one of token_env (an API token, recommended) or password_env"],
    ["a Jenkins job path with an empty folder", map(NOVA, "    github: acme/functest\n    trigger: { jenkins: { url: https://j.example.org, job: a//b, user_env: U, token_env: T } }\n    depends_on: [{ project: nova }]"),
      "projects[1].trigger.jenkins.job: must be the job's path, its folders and name joined by '/', e.g. functest/kata-containers"],
    ["Jenkins over plain http to another host", map(NOVA, "    github: acme/functest\n    trigger: { jenkins: { url: http://j.example.org, job: a, user_env: U, token_env: T } }\n    depends_on: [{ project: nova }]"),
      "projects[1].trigger.jenkins.url: asks for http:// on a host other than this machine: use https://"],
    ["a Gerrit user without a password", map("    gerrit: { url: https://review.opendev.org, project: openstack/nova, user_env: GERRIT_USER }", "    github: acme/functest"),
      "projects[0].gerrit.password_env: name both user_env and password_env (HTTP credentials), or neither to read anonymously"],
    ["a host key that is not one", map("    gerrit: { url: https://review.opendev.org, project: openstack/nova, ssh: { user_env: U, key_env: K, host_key: review.opendev.org ssh-ed25519 AAAA } }", "    github: acme/functest"),
      "projects[0].gerrit.ssh.host_key: must be the server's public host key as ssh-keyscan prints it, without the host name"],
    ["credentials in the Gerrit URL", map("    gerrit: { url: https://bot:secret@review.opendev.org, project: openstack/nova }", "    github: acme/functest"),
      "projects[0].gerrit.url: must not carry credentials (user:password@)"],
    ["after_check on a Gerrit upstream without Zuul", map(NOVA, `    github: acme/functest\n${JENKINS}\n    depends_on: [{ project: nova, after_check: release }]`),
      "projects[1].depends_on[0].after_check: 'nova' is on Gerrit, which runs no CI the relay can read: add 'zuul: { url, tenant }' to its gerrit entry"],
    ["pull requests of a Gerrit upstream", map(NOVA, `    github: acme/functest\n${JENKINS}\n    depends_on: [{ project: nova, on: [pull_request] }]`),
      "projects[1].depends_on[0].on: 'nova' is on Gerrit, which has changes, not pull requests"],
    ["one Jenkins token variable for two servers", map(NOVA, "    github: acme/functest\n    trigger: { jenkins: { url: https://a.example.org, job: a, user_env: U, token_env: T } }\n    depends_on: [{ project: nova }]\n  - id: other\n    foundation: openinfra\n    github: acme/other\n    trigger: { jenkins: { url: https://b.example.org, job: b, user_env: U2, token_env: T } }\n    depends_on: [{ project: nova }]"),
      "projects[2].trigger.jenkins.token_env: T is already named for a.example.org"],
  ])("refuses %s, saying how to fix it", (_what, text, expected) => {
    expect(problems(text)).toEqual([expect.stringContaining(expected)]);
  });

  it("keeps gerrit: and Jenkins triggers out of format v1 and out of a downstream's own declaration", () => {
    expect(problems("projects:\n  - id: nova\n    gerrit: { url: https://review.opendev.org, project: openstack/nova }\n").join("\n")).toContain("gerrit");
    expect(problems("projects:\n  - id: app\n    github: acme/app\n    trigger: { jenkins: { url: https://j.example.org, job: a, user_env: U, token_env: T } }\n").join("\n")).toContain("jenkins");
  });
});
