import type { ProjectLocation } from "../map/graph.js";
import type { GithubApps } from "./github-apps.js";
import { GithubForge } from "./github.js";
import { GitlabForge, type GitlabForgeOptions } from "./gitlab.js";
import type { Forge } from "./types.js";

export interface ForgeRegistryOptions {
  github: { apps: GithubApps; appId: number; webUrl: string };
  gitlab: GitlabForgeOptions;
}

/** Picks the forge implementation for a project's location; one forge object per job. */
export class ForgeRegistry {
  constructor(private readonly o: ForgeRegistryOptions) {}

  forLocation(location: Pick<ProjectLocation, "forge">, opts: { installationId?: number | undefined } = {}): Forge {
    switch (location.forge) {
      case "github":
        return new GithubForge({ ...this.o.github, installationId: opts.installationId });
      case "gitlab":
        return new GitlabForge(this.o.gitlab);
    }
  }

  /** False for forges the relay cannot trigger: fan-out leaves such dependants out and says so. */
  supports(location: Pick<ProjectLocation, "forge">): boolean {
    return location.forge === "github" || location.forge === "gitlab";
  }

  /** Forges whose downstream results do not reach the relay by webhook yet are polled. */
  polls(location: Pick<ProjectLocation, "forge">): boolean {
    return location.forge === "gitlab";
  }
}
