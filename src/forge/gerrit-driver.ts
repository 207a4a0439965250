import type { DependencyMap, GerritLocation } from "../map/graph.js";
import { refOf } from "../map/graph.js";
import { ForgeError } from "./errors.js";
import { GerritSource } from "./gerrit.js";
import { GerritReporter } from "./gerrit-reporter.js";
import { ZuulBuilds } from "./zuul.js";
import type { Checks } from "./roles.js";
import type { GerritAuth } from "./gerrit-http.js";
import type { At, SystemDriver } from "./registry.js";

/**
 * Gerrit as the relay uses it: a source of tags read through its REST API (anonymously, or under
 * `/a/` as the map entry's account). No webhook comes from Gerrit, so its upstreams are watched
 * (polled); where the map gives SSH, `gerrit stream-events` announces tags at once as well, and
 * changes' patch sets and rechecks for edges with `on: [change]` (src/workers/gerrit-streams.ts),
 * whose results go back as review messages (src/forge/gerrit-reporter.ts).
 */
export function gerritDriver(map: () => DependencyMap, env: NodeJS.ProcessEnv): SystemDriver {
  return {
    source: (at) => {
      const location = gerritLocationAt(map(), at);
      return new GerritSource({ url: location?.url ?? at.host ?? "", auth: location ? gerritAuth(location, env) : undefined });
    },
    // Results go back on changes only (on: [change]): one review message per patch set; a tag shows nothing there.
    reporter: (at) => {
      const location = gerritLocationAt(map(), at);
      return new GerritReporter({
        url: location?.url ?? at.host ?? "", vote: location?.vote === true,
        auth: () => (location ? gerritAuth(location, env) : undefined),
        checks: () => zuulChecks(map(), at),
      });
    },
    // Its CI results are Zuul's, where the map names the project's Zuul; no hook says when a buildset ends.
    checks: (at) => zuulChecks(map(), at),
    pollsChecks: true,
    pollsRuns: false, signsCheckHooks: false, watched: true,
  };
}

/** A Gerrit project's CI results, read from its Zuul: an `after_check` names a pipeline (release). */
function zuulChecks(map: DependencyMap, at: At): Checks {
  const location = gerritLocationAt(map, at);
  if (!location?.zuul) {
    throw new ForgeError(`no Zuul is named for ${at.repo} on ${at.host ?? "?"}`, "config", { hint: "add zuul: { url, tenant } to the project's gerrit entry in the map" });
  }
  const zuul = new ZuulBuilds({ url: location.zuul.url, tenant: location.zuul.tenant });
  return {
    // A tag's buildset is found by its ref (refs/tags/<tag>); the pipeline is the check's name.
    checkState: (repo, sha, name, ref) => zuul.checkState(repo, ref ?? sha, name),
    checksPassed: async () => {
      throw new ForgeError("Gerrit changes' checks are not read by the relay", "config", { hint: "test a Gerrit upstream's changes with on: [change], not pull_requests" });
    },
  };
}

/** The map's entry for a Gerrit place (its URL is the place's host, its project the path). */
export function gerritLocationAt(map: DependencyMap, at: Pick<At, "forge" | "repo" | "host">): GerritLocation | undefined {
  const location = map.projectsAt(refOf(at))[0]?.location;
  return location?.forge === "gerrit" ? location : undefined;
}

/** The HTTP credentials the entry names, read from the environment; undefined to read anonymously. */
export function gerritAuth(location: GerritLocation, env: NodeJS.ProcessEnv): GerritAuth | undefined {
  if (!location.userEnv || !location.passwordEnv) return undefined;
  return { user: required(env, location.userEnv, location), password: required(env, location.passwordEnv, location) };
}

function required(env: NodeJS.ProcessEnv, name: string, location: GerritLocation): string {
  const value = env[name];
  if (value) return value;
  throw new ForgeError(`${name} is not set`, "config", {
    hint: `the map's gerrit entry for ${location.project} on ${location.url} names ${name}: set it in the relay's environment (Gerrit: Settings → HTTP Credentials), or remove user_env/password_env to read anonymously`,
  });
}
