import type { DependencyMap } from "../map/graph.js";
import type { MapJenkinsTrigger } from "../map/schema.js";
import { isRelayOwnVariable } from "../map/secret-names.js";
import { ForgeError } from "./errors.js";
import { JenkinsRunner } from "./jenkins.js";
import type { At, SystemDriver } from "./registry.js";

/**
 * Jenkins as the relay uses it: only a runner. A place is a job on a server (`repo` the job's path,
 * `host` the server's URL); the account is the one the map's trigger names. Its builds' results come
 * by the Notification plugin where a job is set up for it, and are polled in any case
 * (`pollsRuns`): the plugin says nothing while a build waits in the queue.
 */
export function jenkinsDriver(map: () => DependencyMap, env: NodeJS.ProcessEnv): SystemDriver {
  return {
    runner: (at) => {
      const trigger = jenkinsTriggerAt(map(), at);
      if (!trigger) {
        throw new ForgeError(`no map entry runs the Jenkins job ${at.repo} on ${at.host ?? "?"}`, "config", { hint: "the map changed since the run started: it is no longer followed" });
      }
      const secretEnv = trigger.token_env ?? trigger.password_env!;
      const user = required(env, trigger.user_env, trigger);
      const secret = required(env, secretEnv, trigger);
      return new JenkinsRunner({
        url: trigger.url,
        auth: trigger.token_env ? { user, token: secret } : { user, password: secret },
        vars: { user: trigger.user_env, secret: secretEnv },
      });
    },
    pollsRuns: true, signsCheckHooks: false,
  };
}

/** The map's trigger for a Jenkins place: the same server (however its URL is written) and job. */
export function jenkinsTriggerAt(map: DependencyMap, at: Pick<At, "repo" | "host">): MapJenkinsTrigger | undefined {
  const server = serverKey(at.host ?? "");
  for (const p of map.projects()) {
    const j = p.trigger?.jenkins;
    if (j && j.job === at.repo && serverKey(j.url) === server) return j;
  }
  return undefined;
}

const serverKey = (url: string) => url.toLowerCase().replace(/\/+$/, "");

function required(env: NodeJS.ProcessEnv, name: string, trigger: MapJenkinsTrigger): string {
  if (isRelayOwnVariable(name)) {
    throw new ForgeError(`the map names ${name}, the relay's own configuration, as a Jenkins credential`, "config", { hint: "Name a variable of its own in the map (user_env, token_env)." });
  }
  const value = env[name];
  if (value) return value;
  throw new ForgeError(`${name} is not set`, "config", {
    hint: `the map's Jenkins trigger for ${trigger.job} on ${trigger.url} names ${name}: set it in the relay's environment (a Jenkins user and its API token: People → user → Configure → API Token)`,
  });
}
