/**
 * The objects the fake GitHub answers with, complete as GitHub's OpenAPI description requires them
 * (every required property, nothing it does not list): the fake's answers are checked against the
 * description (openapi.ts `validateResponse`), so a shortcut here shows up as a problem in every test.
 * Values the relay never reads are plausible constants; the ones it reads are passed in.
 */
type Json = Record<string, unknown>;

const AT = "2026-11-20T10:00:00Z";
/** GitHub Actions, the app whose check runs a downstream's workflows show */
export const ACTIONS_APP_ID = 15368;

/** Where the fake serves: `web` is the HTML side, `api` the REST API under /api/v3. */
export interface Base {
  web: string;
  api: string;
}

export function baseOf(host: string): Base {
  return { web: `http://${host}`, api: `http://${host}/api/v3` };
}

/** A stable positive number for a name (ids of repositories, users, workflows the fake does not number). */
export function idOf(name: string): number {
  let h = 7;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 2_000_000_000;
  return h + 1;
}

export function simpleUser(b: Base, login: string, o: { id?: number; type?: string } = {}): Json {
  const url = `${b.api}/users/${encodeURIComponent(login)}`;
  return {
    login, id: o.id ?? idOf(login), node_id: `U_${login}`, avatar_url: `${b.web}/avatars/${encodeURIComponent(login)}`, gravatar_id: "",
    url, html_url: `${b.web}/${encodeURIComponent(login)}`, followers_url: `${url}/followers`, following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`, starred_url: `${url}/starred{/owner}{/repo}`, subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`, repos_url: `${url}/repos`, events_url: `${url}/events{/privacy}`, received_events_url: `${url}/received_events`,
    type: o.type ?? "Organization", site_admin: false,
  };
}

/** The `minimal-repository` of the description: what lists and workflow runs embed. */
export function minimalRepository(b: Base, fullName: string, o: { id?: number; private?: boolean } = {}): Json {
  const [owner = "", name = ""] = fullName.split("/");
  const url = `${b.api}/repos/${fullName}`;
  return {
    id: o.id ?? idOf(fullName), node_id: `R_${fullName}`, name, full_name: fullName, owner: simpleUser(b, owner), private: o.private === true,
    html_url: `${b.web}/${fullName}`, description: null, fork: false, url,
    archive_url: `${url}/{archive_format}{/ref}`, assignees_url: `${url}/assignees{/user}`, blobs_url: `${url}/git/blobs{/sha}`,
    branches_url: `${url}/branches{/branch}`, collaborators_url: `${url}/collaborators{/collaborator}`, comments_url: `${url}/comments{/number}`,
    commits_url: `${url}/commits{/sha}`, compare_url: `${url}/compare/{base}...{head}`, contents_url: `${url}/contents/{+path}`,
    contributors_url: `${url}/contributors`, deployments_url: `${url}/deployments`, downloads_url: `${url}/downloads`, events_url: `${url}/events`,
    forks_url: `${url}/forks`, git_commits_url: `${url}/git/commits{/sha}`, git_refs_url: `${url}/git/refs{/sha}`, git_tags_url: `${url}/git/tags{/sha}`,
    issue_comment_url: `${url}/issues/comments{/number}`, issue_events_url: `${url}/issues/events{/number}`, issues_url: `${url}/issues{/number}`,
    keys_url: `${url}/keys{/key_id}`, labels_url: `${url}/labels{/name}`, languages_url: `${url}/languages`, merges_url: `${url}/merges`,
    milestones_url: `${url}/milestones{/number}`, notifications_url: `${url}/notifications{?since,all,participating}`, pulls_url: `${url}/pulls{/number}`,
    releases_url: `${url}/releases{/id}`, stargazers_url: `${url}/stargazers`, statuses_url: `${url}/statuses/{sha}`, subscribers_url: `${url}/subscribers`,
    subscription_url: `${url}/subscription`, tags_url: `${url}/tags`, teams_url: `${url}/teams`, trees_url: `${url}/git/trees{/sha}`, hooks_url: `${url}/hooks`,
  };
}

/** The `repository` of the description (pull requests' head and base), a superset of the minimal one. */
export function repository(b: Base, fullName: string, o: { id?: number; private?: boolean } = {}): Json {
  const minimal = minimalRepository(b, fullName, o);
  return {
    ...minimal, license: null, forks: 0, git_url: `git://${b.web.replace(/^https?:\/\//, "")}/${fullName}.git`, ssh_url: `git@example.invalid:${fullName}.git`,
    clone_url: `${b.web}/${fullName}.git`, mirror_url: null, svn_url: `${b.web}/${fullName}`, homepage: null, language: null,
    forks_count: 0, stargazers_count: 0, watchers_count: 0, size: 0, default_branch: "main", open_issues_count: 0, has_issues: true,
    has_projects: false, has_wiki: false, has_pages: false, has_downloads: false, archived: false, disabled: false,
    pushed_at: AT, created_at: AT, updated_at: AT, open_issues: 0, watchers: 0,
  };
}

/** `full-repository`, as GET /repos/{owner}/{repo} answers. */
export function fullRepository(b: Base, fullName: string, o: { id?: number; private?: boolean } = {}): Json {
  return {
    ...repository(b, fullName, o), has_discussions: false, subscribers_count: 0, network_count: 0,
    visibility: o.private === true ? "private" : "public",
  };
}

/** `integration` (a GitHub App), as GET /app answers and check runs and comments embed. */
export function integration(b: Base, o: { id: number; slug: string; name: string; owner?: string }): Json {
  return {
    id: o.id, slug: o.slug, node_id: `A_${o.slug}`, client_id: `Iv1.${o.slug}`, owner: simpleUser(b, o.owner ?? "openci"), name: o.name, description: null,
    external_url: "https://example.invalid", html_url: `${b.web}/apps/${o.slug}`, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z",
    permissions: {}, events: [],
  };
}

/** `installation`, as GET /repos/{owner}/{repo}/installation answers. */
export function installation(b: Base, i: { id: number; appId: number; appSlug: string; account: string }): Json {
  return {
    id: i.id, account: simpleUser(b, i.account), repository_selection: "selected", access_tokens_url: `${b.api}/app/installations/${i.id}/access_tokens`,
    repositories_url: `${b.api}/installation/repositories`, html_url: `${b.web}/organizations/${i.account}/settings/installations/${i.id}`,
    app_id: i.appId, app_slug: i.appSlug, target_id: idOf(i.account), target_type: "Organization", permissions: {}, events: [],
    created_at: AT, updated_at: AT, single_file_name: null, suspended_by: null, suspended_at: null,
  };
}

/** `commit`, as GET /repos/{owner}/{repo}/commits/{ref} answers. */
export function commit(b: Base, repo: string, c: { sha: string; message: string; tree: string }): Json {
  const url = `${b.api}/repos/${repo}/commits/${c.sha}`;
  const person = { name: "Maintainer", email: "maintainer@example.invalid", date: AT };
  return {
    url, sha: c.sha, node_id: `C_${c.sha}`, html_url: `${b.web}/${repo}/commit/${c.sha}`, comments_url: `${url}/comments`,
    commit: {
      url: `${b.api}/repos/${repo}/git/commits/${c.sha}`, author: person, committer: person, message: c.message, comment_count: 0,
      tree: { sha: c.tree, url: `${b.api}/repos/${repo}/git/trees/${c.tree}` },
    },
    author: null, committer: null, parents: [],
  };
}

export function actionsApp(b: Base): Json {
  return integration(b, { id: ACTIONS_APP_ID, slug: "github-actions", name: "GitHub Actions", owner: "github" });
}

/** `check-run`: the run's own fields, and the app that wrote it. */
export function checkRun(b: Base, repo: string, run: {
  id: number; head_sha: string; name: string; status: string; conclusion: string | null; external_id?: string | null;
  details_url?: string | null; started_at?: string | null; output?: { title?: string | null; summary?: string | null; text?: string | null };
}, app: Json): Json {
  const url = `${b.api}/repos/${repo}/check-runs/${run.id}`;
  return {
    id: run.id, head_sha: run.head_sha, node_id: `CR_${run.id}`, external_id: run.external_id ?? null, url, html_url: `${b.web}/${repo}/runs/${run.id}`,
    details_url: run.details_url ?? null, status: run.status, conclusion: run.conclusion, started_at: run.started_at ?? AT,
    completed_at: run.status === "completed" ? AT : null,
    output: { title: run.output?.title ?? null, summary: run.output?.summary ?? null, text: run.output?.text ?? null, annotations_count: 0, annotations_url: `${url}/annotations` },
    name: run.name, check_suite: { id: 1 }, app, pull_requests: [],
  };
}

/** `workflow-run`, as the runs listings embed them. */
export function workflowRun(b: Base, repo: string, run: {
  id: number; name: string; workflow: string; display_title: string; event: string; status: string; conclusion: string | null; created_at: string;
}): Json {
  const url = `${b.api}/repos/${repo}/actions/runs/${run.id}`;
  const sha = "0".repeat(40);
  return {
    id: run.id, name: run.name, node_id: `WFR_${run.id}`, head_branch: "main", head_sha: sha, path: `.github/workflows/${run.workflow}`,
    display_title: run.display_title, run_number: run.id, event: run.event, status: run.status, conclusion: run.conclusion,
    workflow_id: idOf(`${repo}/${run.workflow}`), url, html_url: `${b.web}/${repo}/actions/runs/${run.id}`, pull_requests: [],
    created_at: run.created_at, updated_at: run.created_at, jobs_url: `${url}/jobs`, logs_url: `${url}/logs`, check_suite_url: `${b.api}/repos/${repo}/check-suites/1`,
    artifacts_url: `${url}/artifacts`, cancel_url: `${url}/cancel`, rerun_url: `${url}/rerun`, workflow_url: `${b.api}/repos/${repo}/actions/workflows/${run.workflow}`,
    head_commit: null, repository: minimalRepository(b, repo), head_repository: minimalRepository(b, repo),
  };
}

/** `job` of a workflow run. */
export function job(b: Base, repo: string, j: { id: number; run_id: number; name: string; status: string; conclusion: string | null; html_url: string }): Json {
  return {
    id: j.id, run_id: j.run_id, run_url: `${b.api}/repos/${repo}/actions/runs/${j.run_id}`, node_id: `J_${j.id}`, head_sha: "0".repeat(40),
    url: `${b.api}/repos/${repo}/actions/jobs/${j.id}`, html_url: j.html_url, status: j.status, conclusion: j.conclusion, created_at: AT, started_at: AT,
    completed_at: j.status === "completed" ? AT : null, name: j.name, check_run_url: `${b.api}/repos/${repo}/check-runs/${j.id}`, labels: ["ubuntu-latest"],
    runner_id: null, runner_name: null, runner_group_id: null, runner_group_name: null, workflow_name: "CI", head_branch: "main",
  };
}

/** `check-suite`, as GET …/commits/{ref}/check-suites lists them. */
export function checkSuite(b: Base, repo: string, cs: { id: number; head_sha: string; status: string; conclusion: string | null; app: Json; latest_check_runs_count: number }): Json {
  return {
    id: cs.id, node_id: `CS_${cs.id}`, head_branch: "main", head_sha: cs.head_sha, status: cs.status, conclusion: cs.conclusion,
    url: `${b.api}/repos/${repo}/check-suites/${cs.id}`, before: null, after: cs.head_sha, pull_requests: [], app: cs.app,
    repository: minimalRepository(b, repo), created_at: AT, updated_at: AT,
    head_commit: { id: cs.head_sha, tree_id: "0".repeat(40), message: "commit", timestamp: AT, author: null, committer: null },
    latest_check_runs_count: cs.latest_check_runs_count, check_runs_url: `${b.api}/repos/${repo}/check-suites/${cs.id}/check-runs`,
  };
}

/** `pull-request-simple`, as GET …/commits/{sha}/pulls lists them. */
export function pullRequestSimple(b: Base, repo: string, p: { number: number; state: string; merged_at: string | null; head: { sha: string; repo: string } }): Json {
  const url = `${b.api}/repos/${repo}/pulls/${p.number}`;
  const html = `${b.web}/${repo}/pull/${p.number}`;
  const issue = `${b.api}/repos/${repo}/issues/${p.number}`;
  const author = simpleUser(b, "contributor", { type: "User" });
  return {
    url, id: p.number, node_id: `PR_${p.number}`, html_url: html, diff_url: `${html}.diff`, patch_url: `${html}.patch`, issue_url: issue,
    commits_url: `${url}/commits`, review_comments_url: `${url}/comments`, review_comment_url: `${b.api}/repos/${repo}/pulls/comments{/number}`,
    comments_url: `${issue}/comments`, statuses_url: `${b.api}/repos/${repo}/statuses/${p.head.sha}`, number: p.number, state: p.state, locked: false,
    title: `PR #${p.number}`, user: author, body: null, labels: [], milestone: null, created_at: AT, updated_at: AT,
    closed_at: p.merged_at, merged_at: p.merged_at, merge_commit_sha: null, assignee: null,
    head: { label: `${p.head.repo.split("/")[0]}:topic`, ref: "topic", repo: repository(b, p.head.repo), sha: p.head.sha, user: author },
    base: { label: `${repo.split("/")[0]}:main`, ref: "main", repo: repository(b, repo), sha: "0".repeat(40), user: simpleUser(b, repo.split("/")[0]!) },
    _links: {
      comments: { href: `${issue}/comments` }, commits: { href: `${url}/commits` }, statuses: { href: `${b.api}/repos/${repo}/statuses/${p.head.sha}` },
      html: { href: html }, issue: { href: issue }, review_comments: { href: `${url}/comments` },
      review_comment: { href: `${b.api}/repos/${repo}/pulls/comments{/number}` }, self: { href: url },
    },
    author_association: "CONTRIBUTOR", auto_merge: null,
  };
}

/** `issue-comment` (a pull request's conversation). */
export function issueComment(b: Base, repo: string, c: { id: number; issue: number; body: string; user: Json; app: Json | null }): Json {
  return {
    id: c.id, node_id: `IC_${c.id}`, url: `${b.api}/repos/${repo}/issues/comments/${c.id}`, html_url: `${b.web}/${repo}/pull/${c.issue}#issuecomment-${c.id}`,
    body: c.body, user: c.user, created_at: AT, updated_at: AT, issue_url: `${b.api}/repos/${repo}/issues/${c.issue}`, author_association: "NONE",
    performed_via_github_app: c.app,
  };
}

/** `commit-comment`. */
export function commitComment(b: Base, repo: string, c: { id: number; sha: string; body: string; user: Json }): Json {
  return {
    html_url: `${b.web}/${repo}/commit/${c.sha}#commitcomment-${c.id}`, url: `${b.api}/repos/${repo}/comments/${c.id}`, id: c.id, node_id: `CC_${c.id}`,
    body: c.body, path: null, position: null, line: null, commit_id: c.sha, user: c.user, created_at: AT, updated_at: AT, author_association: "NONE",
  };
}

/** GitHub's error answer: its message and where the docs are. */
export function error(message: string): Json {
  return { message, documentation_url: "https://docs.github.com/rest" };
}

/** A release's asset as GitHub documents it (the example of "Get a release by tag name"); `digest` null where GitHub computed none. */
export interface ReleaseAssetSpec {
  name: string;
  state: "uploaded" | "open";
  digest?: string | null;
}

/** A release (GitHub's example for `GET /repos/{owner}/{repo}/releases/tags/{tag}`, with this repository's names). */
export function release(b: Base, repo: string, o: { id: number; tag: string; draft?: boolean; assets: ReleaseAssetSpec[] }): Json {
  const api = `${b.api}/repos/${repo}`;
  const author = simpleUser(b, repo.split("/")[0]!, { type: "User" });
  return {
    url: `${api}/releases/${o.id}`, html_url: `${b.web}/${repo}/releases/${o.tag}`, assets_url: `${api}/releases/${o.id}/assets`,
    upload_url: `${b.web}/uploads/repos/${repo}/releases/${o.id}/assets{?name,label}`, tarball_url: `${api}/tarball/${o.tag}`, zipball_url: `${api}/zipball/${o.tag}`,
    id: o.id, node_id: `RE_${o.id}`, tag_name: o.tag, target_commitish: "main", name: o.tag, body: "Description of the release",
    draft: o.draft === true, prerelease: false, created_at: AT, published_at: o.draft ? null : AT, author,
    assets: o.assets.map((a, i) => ({
      url: `${api}/releases/assets/${o.id * 100 + i}`, browser_download_url: `${b.web}/${repo}/releases/download/${o.tag}/${a.name}`,
      id: o.id * 100 + i, node_id: `RA_${o.id * 100 + i}`, name: a.name, label: "", state: a.state, content_type: "application/octet-stream",
      size: 1024, digest: a.digest ?? null, download_count: 0, created_at: AT, updated_at: AT, uploader: author,
    })),
  };
}
