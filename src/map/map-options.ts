import type { Config } from "../config/env.js";
import type { MapOptions } from "./graph.js";

/** What the map's validation needs from the configuration: GITLAB_URL's host, OPENCI_MAP_SECRETS, the declaration quotas, the shortest watch interval. */
export function mapOptionsOf(config: Pick<Config, "gitlabUrl" | "mapSecrets" | "maxDeclaredProjectsPerOwner" | "maxDeclaredEdgesPerProject"> & Partial<Pick<Config, "minWatchIntervalMs">>): MapOptions {
  return {
    gitlabHost: new URL(config.gitlabUrl).host,
    secretNames: config.mapSecrets,
    maxDeclaredProjectsPerOwner: config.maxDeclaredProjectsPerOwner,
    maxDeclaredEdgesPerProject: config.maxDeclaredEdgesPerProject,
    ...(config.minWatchIntervalMs !== undefined ? { minWatchIntervalMs: config.minWatchIntervalMs } : {}),
  };
}
