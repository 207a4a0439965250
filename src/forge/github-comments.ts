import { classifyHttpError } from "./errors.js";
import type { GithubClient } from "./github-octokit.js";
import { upsertMarkedComment, type CommentPlace } from "./comment-places.js";
import type { CommentIds, CommentMode } from "./roles.js";

/**
 * Upserts one marked comment per place (each pull request that brought the commit in, else the
 * commit): edited in place when its text changed, found again by its marker if its id was lost.
 */
export async function upsertGithubComment(
  gh: GithubClient, owner: string, repo: string, sha: string,
  mode: CommentMode, marker: string, body: string, known: CommentIds, app: RelayApp,
): Promise<CommentIds> {
  return upsertMarkedComment(await placesFor(gh, owner, repo, sha, mode, app), marker, body, known, `${owner}/${repo}`);
}

/** The relay's GitHub App: its id, and its slug (its bot user is `<slug>[bot]`). */
export interface RelayApp {
  id: number;
  slug: string;
}

type ListedComment = { id: number; body?: string | null; user?: { login: string; type: string } | null; performed_via_github_app?: { id: number } | null };

/** Issue comments name the app that wrote them; commit comments only their author, the app's bot user. */
const byRelay = (c: ListedComment, app: RelayApp) =>
  c.performed_via_github_app?.id === app.id || (c.user?.type === "Bot" && c.user.login === `${app.slug}[bot]`);

const asList = (comments: ListedComment[], app: RelayApp) => comments.map((c) => ({ id: String(c.id), body: c.body ?? "", own: byRelay(c, app) }));

async function placesFor(gh: GithubClient, owner: string, repo: string, sha: string, mode: CommentMode, app: RelayApp): Promise<CommentPlace[]> {
  const prs = mode === "commit" ? [] : await pullRequestsOf(gh, owner, repo, sha);
  if (prs.length > 0 || mode === "pull_request") {
    return prs.map((number) => ({
      key: `pr-${number}`,
      list: async () => asList(await gh.paginate("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number: number, per_page: 100 }), app),
      create: async (body) => String((await gh.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner, repo, issue_number: number, body })).data.id),
      update: async (id, body) => {
        await gh.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner, repo, comment_id: Number(id), body });
      },
    }));
  }
  return [{
    key: "commit",
    list: async () => asList(await gh.paginate("GET /repos/{owner}/{repo}/commits/{commit_sha}/comments", { owner, repo, commit_sha: sha, per_page: 100 }), app),
    create: async (body) => String((await gh.request("POST /repos/{owner}/{repo}/commits/{commit_sha}/comments", { owner, repo, commit_sha: sha, body })).data.id),
    update: async (id, body) => {
      await gh.request("PATCH /repos/{owner}/{repo}/comments/{comment_id}", { owner, repo, comment_id: Number(id), body });
    },
  }];
}

/** Merged pull requests that brought the commit in (open ones merely containing it are left out). */
async function pullRequestsOf(gh: GithubClient, owner: string, repo: string, sha: string): Promise<number[]> {
  try {
    const { data } = await gh.request("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", { owner, repo, commit_sha: sha, per_page: 100 });
    return data.filter((pr) => pr.merged_at !== null).map((pr) => pr.number);
  } catch (error) {
    throw classifyHttpError(error, `listing the pull requests of ${owner}/${repo}@${sha}`);
  }
}
