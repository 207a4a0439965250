import type { Config } from "../config/env.js";
import type { MapOptions } from "./graph.js";

/** What the map's validation needs from the configuration: GITLAB_URL's host, OPENCI_MAP_SECRETS, the declaration quotas. */
export function mapOptionsOf(config: Pick<Config, "gitlabUrl" | "mapSecrets" | "maxDeclaredProjectsPerOwner" | "maxDeclaredEdgesPerProject">): MapOptions {
  return {
    gitlabHost: new URL(config.gitlabUrl).host,
    secretNames: config.mapSecrets,
    maxDeclaredProjectsPerOwner: config.maxDeclaredProjectsPerOwner,
    maxDeclaredEdgesPerProject: config.maxDeclaredEdgesPerProject,
  };
}
