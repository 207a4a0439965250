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

/** The fixtures' GitHub upstream (`hello`) and the workflow_run examples' downstream (`octo`), test.yml on master. */
export const GITHUB_TO_OCTO_MAP = `
projects:
  - id: hello
    github: ${UPSTREAM}
  - id: octo
    github: octo-org/octo-repo
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: hello }]
`;

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
