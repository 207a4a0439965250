import type { ProjectLocation } from "../map/graph.js";
import { ForgeError } from "./errors.js";
import type { GithubApps } from "./github-apps.js";
import { GithubForge } from "./github.js";
import type { Forge } from "./types.js";

export interface ForgeRegistryOptions {
  github: { apps: GithubApps; appId: number; webUrl: string };
}

/** Picks the forge implementation for a project's location; one forge object per job. */
export class ForgeRegistry {
  constructor(private readonly o: ForgeRegistryOptions) {}

  forLocation(location: Pick<ProjectLocation, "forge">, opts: { installationId?: number | undefined } = {}): Forge {
    switch (location.forge) {
      case "github":
        return new GithubForge({ ...this.o.github, installationId: opts.installationId });
      case "gitlab":
        throw new ForgeError("GitLab projects are validated in the map but not yet relayed", "config", {
          hint: "GitLab support is tracked in the relay's issue on GitLab forges.",
        });
    }
  }

  /** False for forges the relay cannot act on yet: fan-out leaves such dependants out and says so. */
  supports(location: Pick<ProjectLocation, "forge">): boolean {
    return location.forge === "github";
  }
}
