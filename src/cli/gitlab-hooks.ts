import { existsSync } from "node:fs";
import { z } from "zod";
import { loadMap, MapError } from "../map/load.js";
import { GITLAB_WEBHOOK_PATH } from "../web/gitlab-webhooks.js";

/**
 * The events a project's webhook to the relay carries: tag pushes start the fan-out, pipeline and
 * job events bring a downstream's result and open `after_check` gates. Push events are turned off
 * (GitLab turns them on for a new hook): every branch push would be a delivery the relay drops.
 */
export const RELAY_HOOK_EVENTS = { tag_push_events: true, pipeline_events: true, job_events: true, push_events: false } as const;

const Hook = z.object({
  id: z.number().int(),
  url: z.string(),
  tag_push_events: z.boolean().optional(),
  pipeline_events: z.boolean().optional(),
  job_events: z.boolean().optional(),
  push_events: z.boolean().optional(),
  enable_ssl_verification: z.boolean().optional(),
});
type Hook = z.infer<typeof Hook>;

type Io = { out: (s: string) => void; err: (s: string) => void };

/** Where the project lives and with which secrets, as the relay sees it: its map entry, else GITLAB_URL's. */
interface Target {
  api: string;
  tokenName: string;
  token: string | undefined;
  secretName: string;
  secret: string | undefined;
}

/**
 * `openci-relay gitlab-hooks --project group/x [--url URL]`: creates the project's webhook to the
 * relay, or brings an existing one (same URL) up to date, through GitLab's project webhooks API.
 * Idempotent: a hook that already says what the relay needs is left alone, and the command says
 * so. GitLab never answers a hook's secret token, so an existing hook's token is written again
 * only with --reset-token (or when its URL changes, which makes GitLab drop the token).
 */
export async function gitlabHooksCommand(
  o: { project?: string | undefined; url?: string | undefined; "reset-token"?: boolean | undefined },
  env: NodeJS.ProcessEnv, { out, err }: Io, fetchFn: typeof fetch = fetch,
): Promise<number> {
  const fail = (message: string, code = 1) => (err(`openci-relay gitlab-hooks: ${message}\n`), code);
  if (!o.project || !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(o.project)) return fail("give the project's path: --project group/project", 2);
  const base = (o.url ?? env.OPENCI_PUBLIC_URL ?? "").replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/.test(base)) return fail("give the relay's public address: --url https://relay.example.org, or set OPENCI_PUBLIC_URL", 2);
  const hookUrl = `${base}${GITLAB_WEBHOOK_PATH}`;

  let target: Target;
  try {
    target = targetOf(o.project, env);
  } catch (error) {
    if (error instanceof MapError) return fail(error.message);
    throw error;
  }
  if (!target.token) return fail(`set ${target.tokenName} to a token with the 'api' scope and the Maintainer role on ${o.project} (GitLab lets only maintainers manage webhooks)`);
  if (target.secretName === OWN_SECRET_NEEDED) return fail(`the map's entry for ${o.project} names another GitLab host but no webhook_secret_env: the relay takes GITLAB_WEBHOOK_SECRET only from GITLAB_URL's projects, so name a variable for this project's secret there`);
  if (!target.secret) return fail(`set ${target.secretName}: the secret the hook sends and the relay checks (X-Gitlab-Token); without it the relay refuses the project's deliveries`);

  const api = async (method: string, path: string, body?: object): Promise<unknown> => {
    const res = await fetchFn(`${target.api}/projects/${encodeURIComponent(o.project!)}${path}`, {
      method, headers: { "private-token": target.token!, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(30_000),
    }).catch((e: Error) => {
      throw new HookError(`could not reach ${target.api} (${e.message})`);
    });
    const text = await res.text();
    if (!res.ok) {
      const hint = res.status === 401 ? `: ${target.tokenName} is not a valid token` : res.status === 403 ? `: the token needs the Maintainer role on ${o.project}` : res.status === 404 ? `: no project ${o.project} there, or the token cannot see it` : "";
      throw new HookError(`GitLab answered ${res.status} to ${method} ${path || "/"}${hint}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new HookError(`GitLab's answer to ${method} ${path} is not JSON`);
    }
  };

  try {
    const listed = z.array(Hook).safeParse(await api("GET", "/hooks"));
    if (!listed.success) return fail("GitLab's list of the project's hooks is not what its docs describe");
    const same = listed.data.find((h) => sameUrl(h.url, hookUrl));
    const wanted = { url: hookUrl, ...RELAY_HOOK_EVENTS, enable_ssl_verification: hookUrl.startsWith("https:") };
    if (!same) {
      const created = Hook.parse(await api("POST", "/hooks", { ...wanted, token: target.secret }));
      out(`created: ${o.project}'s webhook ${created.id} to ${hookUrl} (tag push, pipeline and job events; secret token from ${target.secretName})\n`);
      return 0;
    }
    const differs = differences(same, wanted);
    if (differs.length === 0 && !o["reset-token"]) {
      out(`unchanged: ${o.project}'s webhook ${same.id} to ${hookUrl} already has tag push, pipeline and job events (GitLab does not show its secret token: --reset-token writes ${target.secretName} again)\n`);
      return 0;
    }
    await api("PUT", `/hooks/${same.id}`, { ...wanted, token: target.secret });
    out(`updated: ${o.project}'s webhook ${same.id} to ${hookUrl}: ${[...differs, ...(o["reset-token"] ? ["secret token"] : [])].join(", ")}\n`);
    return 0;
  } catch (error) {
    if (error instanceof HookError || error instanceof z.ZodError) return fail(error instanceof z.ZodError ? "GitLab's answer about the hook is not what its docs describe" : error.message);
    throw error;
  }
}

class HookError extends Error {}

const OWN_SECRET_NEEDED = "(webhook_secret_env)";

/** The project's map entry (OPENCI_MAP, or ./openci-map.yml) says its host, token and secret variables; else GITLAB_URL's. */
function targetOf(project: string, env: NodeJS.ProcessEnv): Target {
  const gitlabUrl = (env.GITLAB_URL || "https://gitlab.com").replace(/\/+$/, "");
  const mapPath = env.OPENCI_MAP || (existsSync("openci-map.yml") ? "openci-map.yml" : undefined);
  const entries = mapPath ? loadMap(mapPath, { gitlabHost: new URL(gitlabUrl).host }).map.projects() : [];
  const locations = entries.map((p) => p.location).filter((l) => l.forge === "gitlab" && l.project.toLowerCase() === project.toLowerCase());
  const at = locations.find((l) => l.forge === "gitlab" && l.host === undefined) ?? locations[0];
  const location = at?.forge === "gitlab" ? at : undefined;
  const tokenName = location?.tokenEnv ?? "GITLAB_TOKEN";
  // The shared secret speaks only for GITLAB_URL's projects (src/web/gitlab-webhooks.ts): another host's needs its own.
  const secretName = location?.webhookSecretEnv ?? (location?.host ? OWN_SECRET_NEEDED : "GITLAB_WEBHOOK_SECRET");
  return {
    api: `${location?.host ? `https://${location.host}` : gitlabUrl}/api/v4`,
    tokenName, token: env[tokenName] || undefined,
    secretName, secret: location?.webhookSecretEnv ? env[location.webhookSecretEnv] || undefined : location?.host ? undefined : env.GITLAB_WEBHOOK_SECRET || undefined,
  };
}

function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
}

function differences(hook: Hook, wanted: typeof RELAY_HOOK_EVENTS & { enable_ssl_verification: boolean }): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(RELAY_HOOK_EVENTS)) if (hook[k as keyof typeof RELAY_HOOK_EVENTS] !== v) out.push(`${k} ${v ? "on" : "off"}`);
  if (hook.enable_ssl_verification !== undefined && hook.enable_ssl_verification !== wanted.enable_ssl_verification) out.push(`enable_ssl_verification ${wanted.enable_ssl_verification ? "on" : "off"}`);
  return out;
}
