import type { Config } from "../config/env.js";
import type { MapOptions } from "./graph.js";
import { envNames } from "../sinks/sink-spec.js";

/** What the map's validation needs from the configuration: GITLAB_URL's host, OPENCI_MAP_SECRETS, OPENCI_SINKS' secrets, the declaration quotas, the shortest watch interval. */
export function mapOptionsOf(config: Pick<Config, "gitlabUrl" | "mapSecrets" | "maxDeclaredProjectsPerOwner" | "maxDeclaredEdgesPerProject"> & Partial<Pick<Config, "minWatchIntervalMs" | "sinks">>): MapOptions {
  return {
    gitlabHost: new URL(config.gitlabUrl).host,
    secretNames: config.mapSecrets,
    ...(config.sinks?.length ? { boundSecrets: sinkSecretHosts(config.sinks) } : {}),
    maxDeclaredProjectsPerOwner: config.maxDeclaredProjectsPerOwner,
    maxDeclaredEdgesPerProject: config.maxDeclaredEdgesPerProject,
    ...(config.minWatchIntervalMs !== undefined ? { minWatchIntervalMs: config.minWatchIntervalMs } : {}),
  };
}

/** Each variable an OPENCI_SINKS entry names, with the host it is sent to (its url's, or its Matrix homeserver's; a webhook URL's variable is its own host). */
function sinkSecretHosts(sinks: NonNullable<Config["sinks"]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sinks) {
    const at = s.matrix?.homeserver ?? s.url;
    const host = at ? URL.parse(at)?.host.toLowerCase() : undefined;
    for (const [k, v] of envNames(s)) out.set(v, k === "url_env" ? `the webhook in ${v}` : host ?? "(no host)");
  }
  return out;
}
