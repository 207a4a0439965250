import { classifyHttpError, ForgeError } from "../forge/errors.js";
import type { GithubClient } from "../forge/github-octokit.js";
import { badName, GITHUB_TAGS_DEFAULTS, NOT_PUBLIC_HINT, timed, type GithubTag } from "./github-tags.js";

/**
 * The REST fallback of github-tags.ts: a public repository's tags by `GET /repos/{owner}/{repo}/tags`,
 * with conditional requests. For small repositories, and for when GraphQL is unavailable (its points
 * spent, or a GitHub Enterprise Server without it): this list is sorted by name, so it cannot say which
 * tags are the newest.
 */

type Rest = Pick<GithubClient, "request">;

/** One page of the REST list, as the next poll needs it again: its ETag for If-None-Match, and the tags a 304 stands for. */
export interface RestTagPage {
  url: string;
  etag: string | undefined;
  tags: GithubTag[];
  next: string | undefined;
}

export type RestTags =
  | { notModified: true; pages: RestTagPage[]; spent: 0 }
  | { notModified: false; tags: GithubTag[]; pages: RestTagPage[]; truncated: boolean; spent: number };

export interface ListGithubTagsRestOptions {
  /** the pages of the last answer: each is asked for with its own If-None-Match */
  pages?: readonly RestTagPage[];
  /** the most pages read, 100 tags each (default 10) */
  maxPages?: number;
  /** each request's whole exchange (default 20 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A repository's tags by `GET /repos/{owner}/{repo}/tags?per_page=100`, each page asked with
 * `If-None-Match: <its last ETag>`: a 304 means that page is unchanged and costs no rate limit;
 * `notModified` when every page was.
 *
 * GitHub sorts this list by **name**, not date: a new tag need not be on page 1, and a new `v1.10`
 * may land between old tags on any page. So the caller must compare the whole set of names (and
 * commits: a moved tag) with the last one, never look at page 1 alone, and pass this answer's
 * `pages` to the next call. Pages are followed by their `Link: rel="next"` up to `maxPages`; past it
 * `truncated` is true and tags there are unseen: such a repository is for `readGithubTags`, whose
 * order is by commit date.
 */
export async function listGithubTagsRest(gh: Rest, repo: string, opts: ListGithubTagsRestOptions = {}): Promise<RestTags> {
  const bad = badName(repo);
  if (bad) throw bad;
  const [owner, name] = repo.split("/") as [string, string];
  const what = `reading the tags of ${repo} (REST)`;
  const maxPages = opts.maxPages ?? GITHUB_TAGS_DEFAULTS.maxPages;
  const pages: RestTagPage[] = [];
  let spent = 0;
  let url: string | undefined = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/tags?per_page=100`;
  while (url !== undefined && pages.length < maxPages) {
    const pageUrl: string = url;
    const known = opts.pages?.[pages.length]?.url === pageUrl ? opts.pages[pages.length] : undefined;
    const page = await timed(what, opts, async (signal): Promise<RestTagPage> => {
      try {
        const res = await gh.request({ method: "GET", url: pageUrl, headers: known?.etag ? { "if-none-match": known.etag } : {}, request: { signal } });
        spent++;
        const tags = (res.data as { name: string; commit: { sha: string } }[]).map((t) => ({ name: t.name, sha: t.commit.sha }));
        return { url: pageUrl, etag: header(res.headers.etag), tags, next: nextLink(header(res.headers.link)) };
      } catch (err) {
        const e = err as { status?: number; response?: { headers?: Record<string, string | number | undefined> } };
        // Octokit throws a 304 as an error; it stands for the page as it was (and a Link it sends again is the current one).
        if (e?.status === 304 && known) return { ...known, next: nextLink(header(e.response?.headers?.link)) ?? known.next };
        throw restError(err, repo, what);
      }
    });
    pages.push(page);
    url = page.next;
  }
  if (spent === 0 && pages.length === (opts.pages?.length ?? -1)) return { notModified: true, pages, spent: 0 };
  return { notModified: false, tags: pages.flatMap((p) => p.tags), pages, truncated: url !== undefined, spent };
}

function restError(err: unknown, repo: string, what: string): ForgeError {
  const e = classifyHttpError(err, what);
  if (e.kind === "config" && e.status === 404) return new ForgeError(`${what}: no such public repository (404)`, "config", { status: 404, cause: err, hint: NOT_PUBLIC_HINT });
  return e;
}

function header(v: string | number | undefined): string | undefined {
  return v === undefined ? undefined : String(v);
}

/** The `rel="next"` address of a Link header (RFC 8288), as GitHub pages its lists. */
function nextLink(link: string | undefined): string | undefined {
  for (const part of (link ?? "").split(",")) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    const rel = m ? /;\s*rel="?([^";]*)"?/i.exec(m[2]!)?.[1] : undefined;
    if (rel?.split(/\s+/).includes("next")) return m![1];
  }
  return undefined;
}
