import { UPSTREAM } from "./upstream.js";

/** The fixtures' GitHub upstream (`hello`) and one GitLab dependant, group/tool on main. */
export const GITHUB_TO_GITLAB_MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: gl/tool
    gitlab: group/tool
    trigger: { ref: main }
    depends_on: [{ project: hello }]
`;

/** The workflow_run examples' downstream repository (the fake GitHub's octoRepo()). */
export const OCTO_REPO = "octo-org/octo-repo";

/**
 * The map entry of `octo`, the workflow_run examples' downstream (octo-org/octo-repo, test.yml on
 * master), under `projects:`. `upstream`: what it depends on (hello); `fields`: more keys of the
 * project (e.g. "foundation: f"); `edge`: more keys of its edge, flow style (e.g. "pull_requests: true").
 */
export function octoProject(o: { upstream?: string; fields?: string[]; edge?: string } = {}): string {
  return [
    "  - id: octo",
    ...(o.fields ?? []).map((f) => `    ${f}`),
    `    github: ${OCTO_REPO}`,
    "    trigger: { workflow: test.yml, ref: master }",
    `    depends_on: [{ project: ${o.upstream ?? "hello"}${o.edge ? `, ${o.edge}` : ""} }]`,
  ].join("\n") + "\n";
}

/** The fixtures' GitHub upstream (`hello`) and the workflow_run examples' downstream (`octo`), test.yml on master. */
export const GITHUB_TO_OCTO_MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
${octoProject()}`;

/** The fixtures' GitHub upstream (`hello`) and acme/app, dispatched with ci.yml on main for every tag. */
export const GITHUB_TO_GITHUB_MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;

/**
 * The fixtures' GitHub upstream (`hello`, `upstreamExtra` appended to its github line, e.g. a
 * report setting) with two dependants: `octo` (test.yml on master) and acme/app (ci.yml on main).
 */
export const githubToOctoAndAcmeMap = (upstreamExtra = "") => `
projects:
  - id: hello
    github: ${UPSTREAM}${upstreamExtra}
${octoProject()}  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;

/** A GitLab upstream (`gl/lib` at `path`) with `octo` as its dependant, and acme/app (ci.yml on main) too with `acme`. */
export const gitlabToOctoMap = (path: string, o: { acme?: boolean } = {}) => `
projects:
  - id: gl/lib
    gitlab: ${path}
${octoProject({ upstream: "gl/lib" })}${o.acme ? `  - id: acme/app
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: gl/lib }]
` : ""}`;


/**
 * The map entry of nova on a fake Gerrit (openstack/nova, read as GERRIT_USER / GERRIT_PASSWORD),
 * with stream-events over SSH where `ssh` is given (GERRIT_SSH_USER / GERRIT_SSH_KEY, its host key
 * pinned when `hostKey` is), and `vote: true` where asked.
 */
export function gerritNova(gerrit: { url: string }, o: { ssh?: { port: number }; hostKey?: string; vote?: boolean } = {}): string {
  const ssh = o.ssh ? `      ssh: { user_env: GERRIT_SSH_USER, key_env: GERRIT_SSH_KEY, port: ${o.ssh.port}${o.hostKey ? `, host_key: "${o.hostKey}"` : ""} }\n` : "";
  return `  - id: nova
    foundation: openinfra
    gerrit:
      url: ${gerrit.url}
      project: openstack/nova
      user_env: GERRIT_USER
      password_env: GERRIT_PASSWORD
${ssh}${o.vote ? "      vote: true\n" : ""}`;
}
