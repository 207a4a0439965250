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
