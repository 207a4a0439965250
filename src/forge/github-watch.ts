import type { Redis } from "ioredis";
import { z } from "zod";
import { watchGithubPoints, watchGithubReads } from "../metrics.js";
import { key } from "../queue/names.js";
import { listGithubTagsRest, type RestTagPage } from "../watch/github-tags-rest.js";
import { GITHUB_TAGS_DEFAULTS, readGithubTags } from "../watch/github-tags.js";
import { ForgeError } from "./errors.js";
import type { GithubApps } from "./github-apps.js";
import type { BatchSource, TagListing } from "./roles.js";

/** After a refused query (a GitHub Enterprise Server without the query's schema) GraphQL is left alone this long. */
const REFUSED_PAUSE_MS = 3600_000;

/** The REST fallback's pages as last read, kept by the watcher as this source's "etag" (opaque to it). */
const RestPages = z.array(z.object({
  url: z.string(), etag: z.string().optional(), tags: z.array(z.object({ name: z.string(), sha: z.string() })), next: z.string().optional(),
}));

export interface GithubWatchOptions {
  apps: Pick<GithubApps, "readerInstallation" | "forgetReaderInstallation" | "client">;
  redis: Redis;
  /** repositories per GraphQL query (default 50; the relay passes OPENCI_WATCH_GITHUB_BATCH) */
  batchSize?: number;
  /** newest tags read per repository by GraphQL (default 20) */
  perRepo?: number;
}

/**
 * Watched GitHub upstreams (public repositories the app is not installed on), read together with the
 * reader installation's token (GithubApps.readerInstallation): one GraphQL query per `batchSize` repositories,
 * the newest tags of each by commit date (readGithubTags). Where GraphQL is refused or its points are
 * spent, each repository is read by REST instead, every page asked with its last ETag (a 304 costs no
 * rate limit), until GitHub's named reset. Only reads: nothing is written to a watched upstream.
 */
export class GithubWatchSource implements BatchSource {
  readonly batchSize: number;

  constructor(private readonly o: GithubWatchOptions) {
    this.batchSize = o.batchSize ?? GITHUB_TAGS_DEFAULTS.batchSize;
  }

  async watchTagsOfMany(asks: { repo: string; etag: string | undefined }[]): Promise<Map<string, TagListing | Error>> {
    const installation = await this.o.apps.readerInstallation();
    const gh = await this.o.apps.client(installation, "report");
    const out = new Map<string, TagListing | Error>();
    let rest = asks;
    if (!(await this.o.redis.exists(PAUSED))) {
      const perRepo = this.o.perRepo ?? GITHUB_TAGS_DEFAULTS.perRepo;
      const read = await readGithubTags(gh, asks.map((a) => a.repo), { perRepo, batchSize: this.batchSize });
      watchGithubPoints.inc(read.cost);
      rest = [];
      for (const ask of asks) {
        const answer = read.repos[ask.repo];
        if (answer && "tags" in answer) {
          // Fewer than asked for: that is every tag (a deeper-nested one apart), so a missing one was deleted.
          out.set(ask.repo, { notModified: false, tags: answer.tags, etag: undefined, complete: answer.tags.length + answer.unpeeled.length < perRepo });
        } else if (answer && fallsBack(answer.error)) {
          rest.push(ask);
        } else {
          out.set(ask.repo, answer?.error ?? new ForgeError(`reading the tags of ${ask.repo} (GraphQL): no answer for it`, "transient"));
        }
      }
      const stop = Object.values(read.repos).find((r) => "error" in r && fallsBack(r.error));
      if (stop && "error" in stop) await this.pause(stop.error);
      watchGithubReads.inc({ api: "graphql", outcome: rest.length === 0 ? "ok" : "error" }, read.queries);
    }
    for (const ask of rest) out.set(ask.repo, await this.readRest(gh, ask));
    if (asks.length > 0 && asks.every((a) => isLostInstallation(out.get(a.repo)))) await this.o.apps.forgetReaderInstallation();
    return out;
  }

  /** The REST list, each page asked with its ETag; the pages are what the watcher keeps for next time. */
  private async readRest(gh: Parameters<typeof listGithubTagsRest>[0], ask: { repo: string; etag: string | undefined }): Promise<TagListing | Error> {
    const pages = pagesOf(ask.etag);
    try {
      const read = await listGithubTagsRest(gh, ask.repo, { pages });
      watchGithubReads.inc({ api: "rest", outcome: read.notModified ? "not_modified" : "ok" });
      if (read.notModified) return { notModified: true, etag: JSON.stringify(read.pages) };
      return { notModified: false, tags: read.tags, etag: JSON.stringify(read.pages), complete: !read.truncated };
    } catch (error) {
      watchGithubReads.inc({ api: "rest", outcome: "error" });
      return error as Error;
    }
  }

  private async pause(error: ForgeError): Promise<void> {
    const ms = error.kind === "rate_limited" ? (error.retryAfterMs ?? 60_000) : REFUSED_PAUSE_MS;
    await this.o.redis.set(PAUSED, error.message.slice(0, 300), "PX", Math.max(1000, ms));
  }
}

const PAUSED = key("watch-github-graphql-paused");

/** GraphQL as a whole is unavailable (its points spent, the query refused): REST reads the repository instead. */
function fallsBack(error: ForgeError): boolean {
  return error.kind === "rate_limited" || (error.kind === "config" && error.status === undefined && /refused the query/.test(error.message));
}

/** The reader installation's token was refused (the installation was removed or suspended): another is looked up next time. */
function isLostInstallation(answer: TagListing | Error | undefined): boolean {
  const status = (answer as { status?: number } | undefined)?.status;
  return answer instanceof Error && (status === 401 || status === 403) && !/rate limit/i.test(answer.message);
}

function pagesOf(etag: string | undefined): RestTagPage[] | undefined {
  if (!etag?.startsWith("[")) return undefined;
  try {
    const parsed = RestPages.safeParse(JSON.parse(etag));
    return parsed.success ? parsed.data.map((p) => ({ url: p.url, etag: p.etag, tags: p.tags, next: p.next })) : undefined;
  } catch {
    return undefined;
  }
}
