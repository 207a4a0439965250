import type { Probot } from "probot";
import type { Redis } from "ioredis";
import { key } from "../queue/names.js";
import { ForgeError, classifyHttpError, forgeCall } from "./errors.js";
import type { GithubClient } from "./github-octokit.js";
import { PRIORITY, type WritePacer } from "./write-pacer.js";
import type { ForgeLimits, Spend } from "./minute-budget.js";

const INSTALLATION_TTL_S = 3600;
/** "Not installed" is remembered for less long: an installation made meanwhile is seen within minutes. */
const NOT_INSTALLED_TTL_S = 600;
const NOT_INSTALLED = "none";
/**
 * An installation found is also kept in the process this long: one tag's 1,000 check writes to its
 * upstream ask Redis once, not 1,000 times. Well within the Redis entry's hour, which bounds how long
 * any process may use an id GitHub has since replaced.
 */
const MEMO_MS = 60_000;
const MEMO_MAX = 10_000;
/** Clients kept at most (installations × lanes); all are dropped when it is reached, and made again as needed. */
const CLIENTS_MAX = 2_000;
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
  /** installations found, by repository (lower case), kept MEMO_MS in this process; "not installed" is not kept here */
  private readonly memo = new Map<string, { id: number; until: number }>();
  /**
   * Clients by installation and lane, made once per process: an Octokit with its plugins and hooks
   * cost 0.2–0.3 ms to build, several times a tag. Its token comes from Probot's cache on each
   * request, renewed there before it expires, so a kept client never holds a stale one.
   */
  private readonly clients = new Map<string, Promise<GithubClient>>();

  constructor(
    private readonly probot: Probot,
    private readonly redis: Redis,
    private readonly pacer: WritePacer,
    private readonly budgets?: GithubBudgets,
    /** OPENCI_WATCH_GITHUB_INSTALLATION: the installation that reads watched upstreams, instead of the oldest */
    private readonly readerId?: number,
  ) {}

  async installationFor(repo: string, now = Date.now()): Promise<number> {
    const memoKey = repo.toLowerCase();
    const memo = this.memo.get(memoKey);
    if (memo && memo.until > now) return memo.id;
    const found = await this.lookUpInstallation(repo);
    if (this.memo.size >= MEMO_MAX) this.memo.clear();
    this.memo.set(memoKey, { id: found, until: now + MEMO_MS });
    return found;
  }

  private async lookUpInstallation(repo: string): Promise<number> {
    const cacheKey = key("gh-installation", repo.toLowerCase());
    const cached = await this.redis.get(cacheKey);
    if (cached === NOT_INSTALLED) throw notInstalled(repo);
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
        // Cached too: every read of a watched upstream would otherwise ask again.
        await this.redis.set(cacheKey, NOT_INSTALLED, "EX", NOT_INSTALLED_TTL_S);
        throw notInstalled(repo);
      }
      throw e;
    }
  }

  /**
   * A client that may read `repo`: its own installation's, else, where the app is not installed
   * there, the reader installation's (GitHub lets any installation token read a public repository).
   * Only for reads: a write with it is refused by GitHub.
   */
  async readClientForRepo(repo: string, installationId?: number): Promise<GithubClient> {
    try {
      return await this.clientForRepo(repo, "report", installationId);
    } catch (error) {
      if (!(error instanceof ForgeError) || error.status !== 404) throw error;
      return this.client(await this.readerInstallation(), "report");
    }
  }

  /**
   * The installation whose token reads public repositories the app is not installed on (watched
   * upstreams): OPENCI_WATCH_GITHUB_INSTALLATION, else the app's oldest installation (the lowest id
   * of `GET /app/installations`), asked once an hour. Its points budget is the one those reads spend.
   */
  async readerInstallation(): Promise<number> {
    if (this.readerId !== undefined) return this.readerId;
    const cacheKey = key("gh-reader-installation");
    const cached = await this.redis.get(cacheKey);
    if (cached) return Number(cached);
    const app = await this.appClient();
    const { data } = await forgeCall("listing the app's installations (to read public repositories it is not installed on)", () =>
      app.request("GET /app/installations", { per_page: 100 }));
    const ids = data.filter((i) => !i.suspended_at).map((i) => i.id);
    if (ids.length === 0) {
      throw new ForgeError("the GitHub App has no installation whose token could read public repositories", "config", {
        hint: "Install the app on at least one repository of your own (the metadata repository, a downstream): its token reads the watched upstreams",
      });
    }
    const id = Math.min(...ids);
    await this.redis.set(cacheKey, String(id), "EX", INSTALLATION_TTL_S);
    return id;
  }

  /** Forgets the reader installation (it was removed or suspended): the next read asks GitHub again. */
  async forgetReaderInstallation(): Promise<void> {
    await this.redis.del(key("gh-reader-installation"));
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
    const k = `${installationId}:${lane}`;
    const kept = this.clients.get(k);
    if (kept) return kept;
    if (this.clients.size >= CLIENTS_MAX) this.clients.clear();
    const made = this.makeClient(installationId, lane);
    this.clients.set(k, made);
    // A client that could not be made is not kept: the next call tries again.
    made.catch(() => this.clients.delete(k));
    return made;
  }

  private async makeClient(installationId: number, lane: keyof typeof PRIORITY): Promise<GithubClient> {
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

function notInstalled(repo: string): ForgeError {
  return new ForgeError(`the OpenCI Relay GitHub App is not installed on ${repo}`, "config", {
    status: 404,
    hint: `Install the app on ${repo} (or its organisation) so the relay may act there; to follow a public repository without installing it, give its map entry \`watch:\``,
  });
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
