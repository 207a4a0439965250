import { classifyHttpError, ForgeError } from "../forge/errors.js";
import type { GithubClient } from "../forge/github-octokit.js";

/**
 * The newest tags of public GitHub repositories the app is not installed on, read with an installation
 * token of the relay's own (GitHub lets an installation token read any public repository).
 *
 * - `readGithubTags`: GraphQL, one query per batch of repositories, one alias each, the newest tags
 *   first by the date of their commit (`TAG_COMMIT_DATE`). About one point per batch of 50.
 * - `listGithubTagsRest` (github-tags-rest.ts): the REST list with conditional requests, for small
 *   repositories and for when GraphQL is unavailable. A 304 costs no rate limit; but the list is
 *   sorted by name, not date.
 *
 * Neither writes anything. Errors are `ForgeError`s: `config` for what only a person can fix (no such
 * public repository), `transient` for a 5xx, a timeout or a cut answer, `rate_limited` with the wait GitHub named.
 */

export interface GithubTag {
  /** the tag's name, without `refs/tags/` */
  name: string;
  /** the commit the tag finally names */
  sha: string;
}

/** A tag the query could not peel to a commit: the object it reached (a tag nested deeper than the query reads, a tree, a blob), for the caller to peel through the REST API or to leave out. */
export interface UnpeeledTag {
  name: string;
  /** the GraphQL type of the last object reached (`Tag`, `Tree`, `Blob`), or `none` where the ref names a missing object */
  type: string;
  oid: string | undefined;
}

export type RepoTags = { tags: GithubTag[]; unpeeled: UnpeeledTag[] } | { error: ForgeError };

export interface GithubTagsRead {
  /** per repository as the caller named it: its newest tags, or why it could not be read */
  repos: Record<string, RepoTags>;
  /** queries sent */
  queries: number;
  /** GraphQL points the answered queries cost (`rateLimit.cost`, summed) */
  cost: number;
  /** the installation's budget after the last answered query */
  rateLimit: { remaining: number; resetAt: string } | undefined;
}

export interface ReadGithubTagsOptions {
  /** repositories per query (default 50) */
  batchSize?: number;
  /** tags per repository, newest first (default 20; GitHub allows 1-100) */
  perRepo?: number;
  /** each query's whole exchange (default 20 s; GitHub itself gives up on a query after 10 s) */
  timeoutMs?: number;
  /** the caller's own cancellation: its reason is thrown as it is */
  signal?: AbortSignal;
}

export const GITHUB_TAGS_DEFAULTS = { batchSize: 50, perRepo: 20, timeoutMs: 20_000, maxPages: 10 } as const;

export const NOT_PUBLIC_HINT =
  "the relay reads a GitHub repository it is not installed on only while it is public: check the owner/name in the map; for a private repository, install the app there";
/** GitHub's advice where a rate-limited answer names no time ("Rate limits and query limits for the GraphQL API"). */
const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

type Gql = Pick<GithubClient, "graphql">;

/**
 * The newest `perRepo` tags of each repository, by GraphQL, `batchSize` repositories a query, one
 * query after another (GitHub asks integrations to avoid concurrent requests).
 *
 * Peeling: a lightweight tag's ref names its commit; an annotated tag's names a Tag object, whose
 * target the query reads; a tag of a tag (`git tag -a outer inner`) is read one level further. A
 * deeper chain, or a tag of a tree or a blob, comes back in `unpeeled`, not in `tags`: the caller may
 * peel it with the REST API (`GithubForge.resolveTag` follows five levels) or leave it out.
 *
 * A repository that does not exist or is not public answers null with a NOT_FOUND error for its alias
 * alone: that repository gets a `config` error, the others in its query their tags. A query that fails
 * as a whole gives its error to each of its repositories; after a rate-limited or refused query the
 * remaining batches are not sent and get the same error.
 */
export async function readGithubTags(gh: Gql, repos: readonly string[], opts: ReadGithubTagsOptions = {}): Promise<GithubTagsRead> {
  const batchSize = opts.batchSize ?? GITHUB_TAGS_DEFAULTS.batchSize;
  const perRepo = opts.perRepo ?? GITHUB_TAGS_DEFAULTS.perRepo;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, not ${batchSize}`);
  if (!Number.isInteger(perRepo) || perRepo < 1 || perRepo > 100) throw new RangeError(`perRepo must be within 1-100 (GitHub's limit on \`first\`), not ${perRepo}`);
  const out: GithubTagsRead = { repos: {}, queries: 0, cost: 0, rateLimit: undefined };
  const valid: string[] = [];
  for (const repo of new Set(repos)) {
    const bad = badName(repo);
    if (bad) out.repos[repo] = { error: bad };
    else valid.push(repo);
  }
  let stopped: ForgeError | undefined;
  for (let i = 0; i < valid.length; i += batchSize) {
    const batch = valid.slice(i, i + batchSize);
    if (stopped) {
      for (const repo of batch) out.repos[repo] = { error: stopped };
      continue;
    }
    out.queries++;
    try {
      const answer = await queryBatch(gh, batch, perRepo, opts);
      Object.assign(out.repos, answer.repos);
      if (answer.rateLimit) {
        out.cost += answer.rateLimit.cost;
        out.rateLimit = { remaining: answer.rateLimit.remaining, resetAt: answer.rateLimit.resetAt };
      }
    } catch (err) {
      if (!(err instanceof ForgeError)) throw err;
      for (const repo of batch) out.repos[repo] = { error: err };
      if (err.kind !== "transient") stopped = err;
    }
  }
  return out;
}

interface GqlObject { __typename?: string; oid?: string; target?: GqlObject | null }
interface GqlRepository { refs?: { nodes?: ({ name: string; target: GqlObject | null } | null)[] | null } | null }
interface GqlError { type?: string; path?: (string | number)[]; message?: string }
interface GqlRateLimit { cost: number; remaining: number; resetAt: string }

const PEEL = "target { __typename oid ... on Tag { target { __typename oid ... on Tag { target { __typename oid } } } } }";

function batchQuery(size: number, perRepo: number): string {
  const vars = Array.from({ length: size }, (_, i) => `$o${i}: String!, $n${i}: String!`).join(", ");
  const aliases = Array.from({ length: size }, (_, i) =>
    `r${i}: repository(owner: $o${i}, name: $n${i}) { refs(refPrefix: "refs/tags/", first: ${perRepo}, orderBy: {field: TAG_COMMIT_DATE, direction: DESC}) { nodes { name ${PEEL} } } }`,
  ).join("\n");
  return `query NewestTags(${vars}) {\n${aliases}\nrateLimit { cost remaining resetAt }\n}`;
}

async function queryBatch(gh: Gql, batch: string[], perRepo: number, opts: ReadGithubTagsOptions): Promise<{ repos: Record<string, RepoTags>; rateLimit: GqlRateLimit | undefined }> {
  const what = batch.length === 1 ? `reading the tags of ${batch[0]} (GraphQL)` : `reading the tags of ${batch.length} repositories (GraphQL, ${batch[0]}…)`;
  const variables = Object.fromEntries(batch.flatMap((repo, i) => {
    const [owner, name] = repo.split("/");
    return [[`o${i}`, owner], [`n${i}`, name]];
  }));
  const { data, errors } = await timed(what, opts, async (signal): Promise<{ data: Record<string, unknown> | null | undefined; errors: GqlError[] }> => {
    try {
      return { data: await gh.graphql<Record<string, unknown>>(batchQuery(batch.length, perRepo), { ...variables, request: { signal } }), errors: [] };
    } catch (err) {
      // GitHub answers 200 with `errors` beside whatever `data` it could resolve; Octokit throws that as a GraphqlResponseError.
      const e = err as { name?: string; data?: Record<string, unknown> | null; errors?: GqlError[]; headers?: Record<string, string | number | undefined> };
      if (e?.name !== "GraphqlResponseError") throw err;
      const errors = e.errors ?? [];
      const aliases = new Set(batch.map((_, i) => `r${i}`));
      const general = errors.filter((x) => typeof x.path?.[0] !== "string" || !aliases.has(x.path[0]));
      if (general.length > 0) throw queryError(what, general, e.data, e.headers ?? {});
      return { data: e.data, errors };
    }
  });
  const repos: Record<string, RepoTags> = {};
  batch.forEach((repo, i) => {
    const own = errors.find((x) => x.path?.[0] === `r${i}`);
    repos[repo] = own ? { error: aliasError(repo, own) } : tagsOf(repo, data?.[`r${i}`] as GqlRepository | null | undefined);
  });
  return { repos, rateLimit: (data?.rateLimit as GqlRateLimit | undefined) ?? undefined };
}

/** An error about the whole query: a rate limit, a query GitHub refused before running it, or anything else (transient). */
function queryError(what: string, errors: GqlError[], data: unknown, headers: Record<string, string | number | undefined>): ForgeError {
  const said = errors.map((x) => x.message ?? x.type ?? "?").join("; ").slice(0, 300);
  if (errors.some((x) => x.type === "RATE_LIMITED" || x.type === "RATE_LIMIT" || /rate limit/i.test(x.message ?? ""))) {
    // The wait GitHub names: retry-after, else x-ratelimit-reset while x-ratelimit-remaining is 0.
    const named = classifyHttpError({ status: 429, response: { headers } }, what).retryAfterMs;
    return new ForgeError(`${what}: rate limited (${said})`, "rate_limited", { retryAfterMs: named ?? DEFAULT_RATE_LIMIT_WAIT_MS });
  }
  // The GraphQL spec: an answer without `data` was refused before execution (it does not parse or validate).
  if (data === undefined) {
    return new ForgeError(`${what}: GitHub refused the query: ${said}`, "config", {
      hint: "the relay's query does not validate against this GitHub's schema: a GitHub Enterprise Server older than the query, or a bug in the relay",
    });
  }
  return new ForgeError(`${what}: ${said}`, "transient", { hint: "GitHub could not answer the whole query; the next poll tries again" });
}

function aliasError(repo: string, e: GqlError): ForgeError {
  const what = `reading the tags of ${repo} (GraphQL)`;
  if (e.type === "NOT_FOUND") return new ForgeError(`${what}: no such public repository (${e.message ?? "NOT_FOUND"})`, "config", { status: 404, hint: NOT_PUBLIC_HINT });
  if (e.type === "FORBIDDEN") {
    return new ForgeError(`${what}: ${e.message ?? "FORBIDDEN"}`, "config", {
      status: 403, hint: "its owner restricts access (SAML single sign-on or an IP allow list): watch it over git's smart HTTP or ask its owner",
    });
  }
  return new ForgeError(`${what}: ${e.message ?? e.type ?? "an error"}`, "transient");
}

function tagsOf(repo: string, node: GqlRepository | null | undefined): RepoTags {
  const refs = node?.refs?.nodes;
  if (!refs || refs.some((r) => r === null)) {
    // A partial list would look like deleted tags: nothing is taken from it.
    return { error: new ForgeError(`reading the tags of ${repo} (GraphQL): the answer has no complete list of refs`, "transient") };
  }
  const tags: GithubTag[] = [];
  const unpeeled: UnpeeledTag[] = [];
  for (const ref of refs as { name: string; target: GqlObject | null }[]) {
    let o = ref.target;
    while (o?.__typename === "Tag" && o.target) o = o.target;
    if (o?.__typename === "Commit" && o.oid) tags.push({ name: ref.name, sha: o.oid });
    else unpeeled.push({ name: ref.name, type: o?.__typename ?? "none", oid: o?.oid });
  }
  return { tags, unpeeled };
}

/** Runs one request under the timeout and the caller's signal; a timeout becomes a transient ForgeError, the caller's abort its own reason. */
export async function timed<T>(what: string, opts: { timeoutMs?: number; signal?: AbortSignal }, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? GITHUB_TAGS_DEFAULTS.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    return await fn(signal);
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (timeout.aborted) throw new ForgeError(`${what}: no complete answer within ${timeoutMs} ms`, "transient", { cause: err, hint: "GitHub is slow or unreachable; the next poll tries again" });
    if (err instanceof ForgeError) throw err;
    throw classifyHttpError(err, what);
  }
}

/** Why `repo` is not a GitHub owner/name (GitHub's own limits on both), or undefined: such a name is never sent. */
export function badName(repo: string): ForgeError | undefined {
  const [owner, name, ...rest] = repo.split("/");
  if (rest.length === 0 && owner !== undefined && name !== undefined && OWNER.test(owner) && NAME.test(name) && name !== "." && name !== "..") return undefined;
  return new ForgeError(`${JSON.stringify(repo)} is not a GitHub owner/name`, "config", { hint: "name the repository as owner/name, as in its GitHub address" });
}
