import type { Probot } from "probot";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";
import { ForgeError, classifyHttpError, forgeCall } from "./errors.js";
import type { GithubClient } from "./github-octokit.js";
import { PRIORITY, type WritePacer } from "./write-pacer.js";
import type { ForgeLimits, Spend } from "./minute-budget.js";

const INSTALLATION_TTL_S = 3600;
/** GitHub's secondary limits count points: a GET, HEAD or OPTIONS costs 1, any other request 5. */
const WRITE_POINTS = 5;

/** GitHub's budgets per installation and minute, shared by every worker through Redis (0: no limit). */
export interface GithubBudgets {
  limits: ForgeLimits;
  /** content-creating requests (GitHub's secondary limit is about 80) */
  writesPerMinute: number;
  /** REST points (GitHub allows 900) */
  pointsPerMinute: number;
}

/** Authenticated GitHub clients per installation; the installation of a repository is looked up (and cached in Redis). */
export class GithubApps {
  constructor(
    private readonly probot: Probot,
    private readonly redis: Redis,
    private readonly pacer: WritePacer,
    private readonly budgets?: GithubBudgets,
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

  /** The app's slug (GET /app, asked once per process): its bot user `<slug>[bot]` writes its comments. */
  async slug(): Promise<string> {
    this.slugOnce ??= (async () => {
      const app = await this.appClient();
      const { data } = await forgeCall("reading the app's own slug", () => app.request("GET /app"));
      if (!data?.slug) throw new ForgeError("GET /app named no slug", "transient");
      return data.slug;
    })();
    // A failed answer is not kept: the next comment asks again.
    return this.slugOnce.catch((error: unknown) => {
      this.slugOnce = undefined;
      throw error;
    });
  }

  private slugOnce: Promise<string> | undefined;

  /** A client authenticated as the app itself (JWT): the app's own endpoints, such as its webhook deliveries. */
  async appClient(): Promise<GithubClient> {
    return (await this.probot.auth()) as GithubClient;
  }

  /**
   * A client for one installation: writes are paced in `lane` (dispatches before decoration); then
   * each request takes its points (and, for a content write, a write) from the installation's
   * budgets, or waits out a pause GitHub asked for, in the queue. A rate-limited answer pauses the whole
   * installation, in every worker, for as long as GitHub said.
   */
  async client(installationId: number, lane: keyof typeof PRIORITY): Promise<GithubClient> {
    const octokit = (await this.probot.auth(installationId)) as GithubClient;
    const place = `github:${installationId}`;
    octokit.hook.wrap("request", async (request, options) => {
      // The client's own access-token request is made inside its auth hook: neither spent nor paced.
      if (isTokenRequest(options.url)) return request(options);
      const write = isWrite(options.method);
      // Paced first, spent last: the budget counts a write when it is sent, not when it began to wait.
      if (write) await this.pacer.acquire(String(installationId), PRIORITY[lane]);
      if (!this.budgets) return request(options);
      return this.budgets.limits.guard(place, this.spends(this.budgets, write), `GitHub requests of installation ${installationId}`, async () => request(options));
    });
    return octokit;
  }

  private spends(budgets: GithubBudgets, write: boolean): Spend[] {
    const points: Spend = { budget: "github-points", perMinute: budgets.pointsPerMinute, cost: write ? WRITE_POINTS : 1 };
    return write ? [points, { budget: "github-writes", perMinute: budgets.writesPerMinute, cost: 1 }] : [points];
  }

  async clientForRepo(repo: string, lane: keyof typeof PRIORITY, installationId?: number): Promise<GithubClient> {
    return this.client(installationId ?? (await this.installationFor(repo)), lane);
  }
}

function isWrite(method: string | undefined): boolean {
  return method !== undefined && method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
}

function isTokenRequest(url: string | undefined): boolean {
  return /\/app\/installations\/[^/]+\/access_tokens$/.test(url ?? "");
}

export function splitRepo(repo: string): [string, string] {
  const [owner, name] = repo.split("/");
  if (!owner || !name) throw new ForgeError(`'${repo}' is not owner/repo`, "config");
  return [owner, name];
}
