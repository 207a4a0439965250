import type { DependencyMap, LocationRef } from "../map/graph.js";
import type { GithubApps } from "./github-apps.js";
import { GithubForge } from "./github.js";
import { GitlabForge, type GitlabForgeOptions } from "./gitlab.js";
import type { Forge } from "./types.js";

export interface ForgeRegistryOptions {
  github: { apps: GithubApps; appId: number; webUrl: string; apiUrl?: string | undefined };
  gitlab: Omit<GitlabForgeOptions, "host" | "tokenEnv">;
}

/** Where a forge call goes: the forge, and for GitLab the host (undefined = GITLAB_URL) and its token's variable. */
export type ForgeLocation = { forge: "github" } | { forge: "gitlab"; host?: string | undefined; tokenEnv?: string | undefined };

/** Picks the forge implementation for a place; one forge object per job. */
export class ForgeRegistry {
  constructor(private readonly o: ForgeRegistryOptions) {}

  forLocation(location: ForgeLocation, opts: { installationId?: number | undefined } = {}): Forge {
    switch (location.forge) {
      case "github":
        return new GithubForge({ ...this.o.github, installationId: opts.installationId });
      case "gitlab":
        return new GitlabForge({ ...this.o.gitlab, host: location.host, tokenEnv: location.tokenEnv });
    }
  }

  /**
   * The forge for a place that is known by path (an upstream commit, a downstream run): the map's
   * entry for it says which token variable a GitLab host needs.
   */
  forPlace(map: DependencyMap, place: { forge: "github" | "gitlab"; repo: string; host?: string | undefined; installationId?: number | undefined }): Forge {
    if (place.forge === "github") return this.forLocation({ forge: "github" }, { installationId: place.installationId });
    const ref: LocationRef = { forge: "gitlab", project: place.repo, host: place.host };
    const listed = map.projectsAt(ref)[0]?.location;
    return this.forLocation({ forge: "gitlab", host: place.host, tokenEnv: listed?.forge === "gitlab" ? listed.tokenEnv : undefined });
  }

  /** False for forges the relay cannot trigger: fan-out leaves such dependants out and says so. */
  supports(location: Pick<ForgeLocation, "forge">): boolean {
    return location.forge === "github" || location.forge === "gitlab";
  }

  /** Forges whose downstream results may not reach the relay by webhook are also polled. */
  polls(location: Pick<ForgeLocation, "forge">): boolean {
    return location.forge === "gitlab";
  }
}
