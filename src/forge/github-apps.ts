import type { Probot } from "probot";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";
import { ForgeError, classifyHttpError } from "./errors.js";
import type { GithubClient } from "./github-octokit.js";
import { PRIORITY, type WritePacer } from "./write-pacer.js";
import type { MinuteBudget } from "./minute-budget.js";

const INSTALLATION_TTL_S = 3600;

/** Authenticated GitHub clients per installation; the installation of a repository is looked up (and cached in Redis). */
export class GithubApps {
  constructor(
    private readonly probot: Probot,
    private readonly redis: Redis,
    private readonly pacer: WritePacer,
    /** content-creating requests per installation and minute, shared by every worker (GitHub's secondary limit is about 80) */
    private readonly writes?: MinuteBudget,
  ) {}

  async installationFor(repo: string): Promise<number> {
    const cacheKey = key("gh-installation", repo.toLowerCase());
    const cached = await this.redis.get(cacheKey);
    if (cached) return Number(cached);
    const [owner, name] = splitRepo(repo);
    const app = (await this.probot.auth()) as GithubClient;
    try {
      const { data } = await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo: name });
      await this.redis.set(cacheKey, String(data.id), "EX", INSTALLATION_TTL_S);
      return data.id;
    } catch (error) {
      const e = classifyHttpError(error, `looking up the app installation on ${repo}`);
      if (e.status === 404) {
        throw new ForgeError(`the OpenCI Relay GitHub App is not installed on ${repo}`, "config", {
          status: 404,
          hint: `Install the app on ${repo} (or its organisation) so the relay may act there.`,
        });
      }
      throw e;
    }
  }

  /** A client authenticated as the app itself (JWT): the app's own endpoints, such as its webhook deliveries. */
  async appClient(): Promise<GithubClient> {
    return (await this.probot.auth()) as GithubClient;
  }

  /** A client for one installation whose writes are paced in `lane` (dispatches before decoration). */
  async client(installationId: number, lane: keyof typeof PRIORITY): Promise<GithubClient> {
    const octokit = (await this.probot.auth(installationId)) as GithubClient;
    octokit.hook.wrap("request", async (request, options) => {
      if (isContentWrite(options.method, options.url)) {
        const waitMs = await this.writes?.take(String(installationId));
        if (waitMs !== undefined) {
          throw new ForgeError(`content writes of installation ${installationId} over ${this.writes!.perMinute} a minute`, "rate_limited", { retryAfterMs: waitMs });
        }
        await this.pacer.acquire(String(installationId), PRIORITY[lane]);
      }
      return request(options);
    });
    return octokit;
  }

  async clientForRepo(repo: string, lane: keyof typeof PRIORITY, installationId?: number): Promise<GithubClient> {
    return this.client(installationId ?? (await this.installationFor(repo)), lane);
  }
}

/** Token requests made by the client's own auth hook pass through here too; only API writes are paced. */
function isContentWrite(method: string | undefined, url: string | undefined): boolean {
  if (method === undefined || method === "GET" || method === "HEAD") return false;
  return !/\/app\/installations\/[^/]+\/access_tokens$/.test(url ?? "");
}

export function splitRepo(repo: string): [string, string] {
  const [owner, name] = repo.split("/");
  if (!owner || !name) throw new ForgeError(`'${repo}' is not owner/repo`, "config");
  return [owner, name];
}
