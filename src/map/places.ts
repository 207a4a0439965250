/**
 * What a repository or project path may look like, for the map and for every webhook payload:
 * letters, digits, `_`, `-` and `.`, but no segment that is only dots (`..` would walk out of a
 * URL path), at most 255 characters.
 */
const SEGMENT = "(?!\\.+(?:/|$))[A-Za-z0-9_.-]+";

/** owner/repo on GitHub */
export const GITHUB_REPO = new RegExp(`^(?=.{3,255}$)${SEGMENT}/${SEGMENT}$`);
/** group/project, or group/subgroup/…/project, on GitLab */
export const GITLAB_PATH = new RegExp(`^(?=.{3,255}$)${SEGMENT}(?:/${SEGMENT})+$`);
