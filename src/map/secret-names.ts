/**
 * Which environment variables the map may name as secrets (`token_env`, `webhook_secret_env`,
 * subscribers' `secret_env`, a trigger's `token_env`). The relay sends a named variable's value to
 * the host of the entry naming it (or signs with it), so its own configuration is never nameable:
 * a map or declaration saying `token_env: PRIVATE_KEY` would post the app's key to any host.
 */
export const RELAY_OWN_VARIABLES: readonly string[] = [
  "APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GITLAB_URL", "GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET",
  "REDIS_URL", "HOST", "PORT", "LOG_LEVEL", "LOG_FORMAT", "GITHUB_APP_SLUG",
  // anyone holding a webhook proxy channel's URL reads the deliveries sent through it
  "WEBHOOK_PROXY_URL",
];
/** Every OPENCI_* variable is the relay's, and GitHub Enterprise's and Redis's settings too. */
const RELAY_OWN_PREFIXES = ["OPENCI_", "GHE_", "REDIS_"];

export const isRelayOwnVariable = (name: string) => RELAY_OWN_VARIABLES.includes(name) || RELAY_OWN_PREFIXES.some((p) => name.startsWith(p));

/**
 * Why the map may not name `name`, or undefined. `allowed`: OPENCI_MAP_SECRETS, the operators'
 * list of the only variables the map may name (undefined: any that is not the relay's own).
 */
export function secretNameProblem(name: string, allowed: ReadonlySet<string> | undefined): string | undefined {
  if (isRelayOwnVariable(name)) {
    return `${name} is the relay's own configuration and is never sent to a project or subscriber: put this secret in a variable of its own (e.g. ${suggestion(name)}) and name that`;
  }
  if (allowed !== undefined && !allowed.has(name)) {
    return `${name} is not in OPENCI_MAP_SECRETS, the variables the relay's operators let the map name: add it there, or name one listed`;
  }
  return undefined;
}

const suggestion = (name: string) => `${name.replace(/^(OPENCI|GHE|REDIS)_/, "").replace(/^GITLAB_/, "")}_FOR_MY_GROUP`.replace(/^_+/, "");
