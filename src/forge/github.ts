import type { Project } from "../map/graph.js";
import { ForgeError, classifyHttpError, forgeCall, withHint, type Hints } from "./errors.js";
import { splitRepo, type GithubApps } from "./github-apps.js";
import type { GithubClient } from "./github-octokit.js";
import { triggerInputs, workflowInputsYaml } from "./trigger-inputs.js";
import { CONCLUSION_FROM_GITHUB_RUN } from "../events/github-run.js";
import { githubVisibilityOf } from "../events/github-visibility.js";
import { upsertGithubComment } from "./github-comments.js";
import type { CommentIds, CommentMode, Forge, RunArtifact, RunStatus, StatusReport, StatusTarget, TriggerResult, UpstreamContext } from "./roles.js";

export interface GithubForgeOptions {
  apps: GithubApps;
  appId: number;
  /** https://github.com, or the GitHub Enterprise web root */
  webUrl: string;
  /** Installation named by the delivery, when the call is about the repository that sent it. */
  installationId?: number | undefined;
  /** the REST API root, for the one call made without an installation (a public repository's visibility) */
  apiUrl?: string | undefined;
}

const MAX_TAG_DEPTH = 5;

export class GithubForge implements Forge {
  constructor(private readonly o: GithubForgeOptions) {}

  /** Read with the repository's installation, or, on a public repository the app is not installed on (a watched upstream), the reader installation's. */
  async resolveTag(repo: string, tag: string, hintSha: string | undefined): Promise<string> {
    const gh = await this.o.apps.readClientForRepo(repo, this.o.installationId);
    const [owner, name] = splitRepo(repo);
    let object = await forgeCall(`resolving tag ${tag} of ${repo}`, async () =>
      (await gh.request("GET /repos/{owner}/{repo}/git/ref/{ref}", { owner, repo: name, ref: `tags/${tag}` })).data.object,
    );
    if (hintSha !== undefined && object.sha !== hintSha) {
      // The tag moved after this delivery was sent; peel what the delivery named, not the newer value.
      object = { ...object, sha: hintSha, type: await this.objectType(gh, owner, name, hintSha) };
    }
    for (let depth = 0; object.type === "tag"; depth++) {
      if (depth >= MAX_TAG_DEPTH) throw new ForgeError(`tag ${tag} of ${repo} nests more than ${MAX_TAG_DEPTH} tag objects`, "config");
      const sha = object.sha;
      object = await forgeCall(`peeling annotated tag ${tag} of ${repo}`, async () =>
        (await gh.request("GET /repos/{owner}/{repo}/git/tags/{tag_sha}", { owner, repo: name, tag_sha: sha })).data.object,
      );
    }
    if (object.type !== "commit") {
      throw new ForgeError(`tag ${tag} of ${repo} points to a ${object.type}, not a commit`, "config");
    }
    return object.sha;
  }

  async listTags(repo: string): Promise<{ name: string; sha: string }[]> {
    const gh = await this.o.apps.readClientForRepo(repo, this.o.installationId);
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`listing the tags of ${repo}`, () => gh.request("GET /repos/{owner}/{repo}/tags", { owner, repo: name, per_page: 100 }));
    return data.map((t) => ({ name: t.name, sha: t.commit.sha }));
  }

  async triggerPipeline(project: Project, ctx: UpstreamContext): Promise<TriggerResult> {
    if (project.location.forge !== "github") throw new Error(`GithubForge cannot trigger ${project.id}`);
    const repo = project.location.repo;
    const trigger = project.trigger ?? {};
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const inputs = triggerInputs(ctx);

    if (trigger.event_type !== undefined) {
      const eventType = trigger.event_type;
      await forgeCall(`repository_dispatch to ${repo}`, () =>
        gh.request("POST /repos/{owner}/{repo}/dispatches", { owner, repo: name, event_type: eventType, client_payload: inputs }),
        { 403: () => `Grant the GitHub App 'contents: write' on ${repo} (app.yml asks for it): GitHub requires it for repository_dispatch.` },
      );
      return { kind: "repository_dispatch", runId: undefined, webUrl: `${this.o.webUrl}/${repo}/actions` };
    }

    const workflow = String(trigger.workflow);
    const ref = trigger.ref ?? "main";
    const what = `workflow_dispatch of ${workflow} on ${repo}@${ref}`;
    const dispatch = (returnRunDetails: boolean) =>
      gh.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
        owner, repo: name, workflow_id: workflow, ref, inputs,
        ...(returnRunDetails ? { return_run_details: true } : {}),
      });
    const hints: Hints = {
      404: () => `Check that ${workflow} exists in ${repo} on '${ref}' and that the app has 'actions: write' there.`,
      422: (message) =>
        /unexpected inputs/i.test(message)
          ? `Declare the relay's inputs in ${workflow} (GitHub rejects a dispatch with undeclared inputs):\n\n\`\`\`yaml\n${workflowInputsYaml(Object.keys(inputs))}\n\`\`\``
          : /no ref found/i.test(message)
            ? `The ref '${ref}' does not exist in ${repo}: fix trigger.ref in the map.`
            : undefined,
    };
    let response;
    try {
      response = await dispatch(true);
    } catch (error) {
      // Servers that predate return_run_details (older GitHub Enterprise) reject the field itself.
      if (!rejectsRunDetails(error)) throw withHint(classifyHttpError(error, what), hints);
      response = await forgeCall(what, () => dispatch(false), hints);
    }
    const details = response.status === 200 ? (response.data as { workflow_run_id?: number; html_url?: string }) : {};
    return {
      kind: "workflow_dispatch",
      runId: details.workflow_run_id !== undefined ? String(details.workflow_run_id) : undefined,
      webUrl: details.html_url ?? `${this.o.webUrl}/${repo}/actions/workflows/${encodeURIComponent(workflow)}`,
    };
  }

  async findTriggered(project: Project, ctx: UpstreamContext, since: Date): Promise<TriggerResult | undefined> {
    if (project.location.forge !== "github") throw new Error(`GithubForge cannot look for runs of ${project.id}`);
    const repo = project.location.repo;
    const trigger = project.trigger ?? {};
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const repositoryDispatch = trigger.event_type !== undefined;
    // The latest 100 runs of that event, newest first (the API description types `created` as a
    // date-time, so the search syntax `>=…` is not sent): the interrupted attempt was minutes ago.
    const { data } = await forgeCall(`listing the recent runs of ${repo}`, () => repositoryDispatch
      ? gh.request("GET /repos/{owner}/{repo}/actions/runs", { owner, repo: name, event: "repository_dispatch", per_page: 100 })
      : gh.request("GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", { owner, repo: name, workflow_id: String(trigger.workflow), event: "workflow_dispatch", per_page: 100 }));
    const run = data.workflow_runs.find((r) => Date.parse(r.created_at) >= since.getTime() && `${r.display_title ?? ""} ${r.name ?? ""}`.includes(ctx.runId));
    return run ? { kind: repositoryDispatch ? "repository_dispatch" : "workflow_dispatch", runId: String(run.id), webUrl: run.html_url } : undefined;
  }

  async openPullRequests(repo: string, sha: string) {
    const gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`listing the pull requests of ${repo}@${sha}`, () =>
      gh.request("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", { owner, repo: name, commit_sha: sha, per_page: 100 }),
    );
    return data
      .filter((pr) => pr.state === "open" && pr.head.sha === sha)
      .map((pr) => ({ number: pr.number, fork: (pr.head.repo?.full_name ?? "").toLowerCase() !== repo.toLowerCase() }));
  }

  async checksPassed(repo: string, sha: string): Promise<"passed" | "pending" | "failed"> {
    const gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`listing the check suites of ${repo}@${sha}`, () =>
      gh.request("GET /repos/{owner}/{repo}/commits/{ref}/check-suites", { owner, repo: name, ref: sha, per_page: 100 }),
    );
    // Suites with no check runs stay "queued" forever on GitHub; they are not waited for.
    const others = data.check_suites.filter((cs) => cs.app?.id !== this.o.appId && (cs.latest_check_runs_count ?? 0) > 0);
    if (others.some((cs) => cs.status !== "completed")) return "pending";
    return others.every((cs) => cs.conclusion === "success" || cs.conclusion === "neutral" || cs.conclusion === "skipped") ? "passed" : "failed";
  }

  async checkState(repo: string, sha: string, name: string) {
    const gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    const [owner, repoName] = splitRepo(repo);
    const { data } = await forgeCall(`reading check '${name}' on ${repo}@${sha}`, () =>
      gh.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", { owner, repo: repoName, ref: sha, check_name: name, filter: "latest", per_page: 1 }),
    );
    const run = data.check_runs[0];
    if (!run) return undefined;
    const conclusion = run.conclusion ? CONCLUSION_FROM_GITHUB_RUN[run.conclusion as keyof typeof CONCLUSION_FROM_GITHUB_RUN] ?? "neutral" : undefined;
    return { completed: run.status === "completed", conclusion };
  }

  async checkSuiteLabels(repo: string, suiteId: string, since?: Date): Promise<string> {
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const runs = await forgeCall(`listing the check runs of suite ${suiteId} in ${repo}`, () =>
      gh.paginate("GET /repos/{owner}/{repo}/check-suites/{check_suite_id}/check-runs", { owner, repo: name, check_suite_id: Number(suiteId), per_page: 100 }),
    );
    return runs
      .filter((r) => since === undefined || (r.started_at != null && Date.parse(r.started_at) >= since.getTime()))
      .map((r) => [r.name, r.external_id ?? "", r.output?.title ?? ""].join(" ")).join("\n");
  }

  async runStatus(repo: string, runId: string): Promise<RunStatus> {
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`reading run ${runId} of ${repo}`, () =>
      gh.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}", { owner, repo: name, run_id: Number(runId) }),
    );
    const completed = data.status === "completed";
    return {
      state: completed ? "completed" : data.status === "in_progress" ? "in_progress" : "queued",
      conclusion: completed ? CONCLUSION_FROM_GITHUB_RUN[(data.conclusion ?? "neutral") as keyof typeof CONCLUSION_FROM_GITHUB_RUN] ?? "neutral" : undefined,
      webUrl: data.html_url,
      startedAt: data.run_started_at ?? undefined,
      updatedAt: data.updated_at,
    };
  }

  async readFiles(repo: string, ref: string, dir: string): Promise<{ sha: string; files: { path: string; text: string }[] }> {
    const gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(repo);
    const hints: Hints = { 404: () => `The app cannot see ${repo}: install it there (contents: read).`, 422: () => `'${ref}' is not a branch, tag or commit of ${repo}.` };
    const commit = await forgeCall(`reading ${ref} of ${repo}`, async () =>
      (await gh.request("GET /repos/{owner}/{repo}/commits/{ref}", { owner, repo: name, ref })).data, hints);
    const tree = await forgeCall(`listing the files of ${repo}@${commit.sha.slice(0, 7)}`, async () =>
      (await gh.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", { owner, repo: name, tree_sha: commit.commit.tree.sha, recursive: "1" })).data, hints);
    if (tree.truncated) throw new ForgeError(`${repo} has too many files to list in one tree`, "config", { hint: "Keep the maps in a smaller repository or folder." });
    const prefix = dir.replace(/^\/+|\/+$/g, "");
    const wanted = tree.tree.filter((e) => e.type === "blob" && /\.ya?ml$/.test(e.path ?? "") && (prefix === "" || (e.path ?? "").startsWith(`${prefix}/`) || e.path === prefix));
    const files = [];
    for (const entry of wanted) {
      const blob = await forgeCall(`reading ${entry.path} of ${repo}`, async () =>
        (await gh.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", { owner, repo: name, file_sha: entry.sha! })).data, hints);
      files.push({ path: entry.path!, text: Buffer.from(blob.content, "base64").toString("utf8") });
    }
    return { sha: commit.sha, files };
  }

  async readFile(repo: string, path: string, ref?: string): Promise<string | undefined> {
    const gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(repo);
    try {
      const { data } = await gh.request("GET /repos/{owner}/{repo}/contents/{path}", { owner, repo: name, path, ...(ref ? { ref } : {}) });
      if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return undefined;
      return Buffer.from(data.content, "base64").toString("utf8");
    } catch (error) {
      const e = classifyHttpError(error, `reading ${path} of ${repo}`);
      if (e.status === 404) return undefined;
      throw e;
    }
  }

  /** GitHub re-runs are new dispatches (a new relay run id the run's title carries): nothing to retry in place. */
  retryRun(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  async failedJobs(repo: string, runId: string): Promise<string[]> {
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`listing the jobs of run ${runId} in ${repo}`, () =>
      gh.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", { owner, repo: name, run_id: Number(runId), filter: "latest", per_page: 100 }),
    );
    return data.jobs.filter((j) => j.conclusion === "failure" || j.conclusion === "timed_out").map((j) => j.name);
  }

  async runArtifacts(repo: string, runId: string): Promise<RunArtifact[]> {
    const gh = await this.o.apps.clientForRepo(repo, "trigger");
    const [owner, name] = splitRepo(repo);
    const { data } = await forgeCall(`listing the artifacts of run ${runId} in ${repo}`, () =>
      gh.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts", { owner, repo: name, run_id: Number(runId), per_page: 100 }),
    );
    return data.artifacts.filter((a) => !a.expired).map((a) => ({
      name: a.name, url: `${this.o.webUrl}/${repo}/actions/runs/${runId}/artifacts/${a.id}`, size: a.size_in_bytes,
    }));
  }

  async visibility(repo: string): Promise<"public" | "private"> {
    const [owner, name] = splitRepo(repo);
    let gh: GithubClient;
    try {
      gh = await this.o.apps.clientForRepo(repo, "report", this.o.installationId);
    } catch (error) {
      // Not installed there: a public repository still answers anyone; a private one is a 404 (unknown: private).
      if (!(error instanceof ForgeError) || error.status !== 404 || !this.o.apiUrl) throw error;
      const res = await fetch(`${this.o.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`, {
        headers: { accept: "application/vnd.github+json", "user-agent": "openci-relay" }, signal: AbortSignal.timeout(10_000),
      });
      // 404: private, or no such repository; anything else passes (5xx, the 60-an-hour anonymous limit): asked again.
      if (res.status === 404) return "private";
      if (!res.ok) throw new ForgeError(`cannot read the visibility of ${repo} without an installation (${res.status})`, "transient", { status: res.status });
      return githubVisibilityOf((await res.json()) as { private?: unknown; visibility?: unknown });
    }
    const { data } = await forgeCall(`reading the visibility of ${repo}`, () => gh.request("GET /repos/{owner}/{repo}", { owner, repo: name }));
    return githubVisibilityOf(data);
  }

  async upsertComment(target: StatusTarget, mode: CommentMode, marker: string, body: string, known: CommentIds): Promise<CommentIds> {
    const gh = await this.o.apps.clientForRepo(target.repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(target.repo);
    return upsertGithubComment(gh, owner, name, target.sha, mode, marker, body, known, { id: this.o.appId, slug: await this.o.apps.slug() });
  }

  async reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string> {
    const gh = await this.o.apps.clientForRepo(target.repo, "report", this.o.installationId);
    const [owner, name] = splitRepo(target.repo);
    const body = {
      name: report.name,
      status: report.status,
      external_id: report.externalId,
      output: { title: report.title, summary: report.summary },
      ...(report.detailsUrl !== undefined ? { details_url: report.detailsUrl } : {}),
      ...(report.status === "completed" ? { conclusion: report.conclusion ?? "neutral" } : {}),
      ...(report.actions !== undefined ? { actions: report.actions } : {}),
    };
    const id = remoteId ?? (await this.findCheckRun(gh, owner, name, target.sha, report));
    if (id !== undefined) {
      await forgeCall(`updating check run '${report.name}' on ${target.repo}`, () =>
        gh.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", { owner, repo: name, check_run_id: Number(id), ...body }),
      );
      return id;
    }
    const created = await forgeCall(`creating check run '${report.name}' on ${target.repo}`, () =>
      gh.request("POST /repos/{owner}/{repo}/check-runs", { owner, repo: name, head_sha: target.sha, ...body }),
      { 403: () => `Grant the GitHub App 'checks: write' on ${target.repo}.` },
    );
    return String(created.data.id);
  }

  /** A check run this app already created for the same trigger (a retry after a lost response). */
  private async findCheckRun(gh: GithubClient, owner: string, repo: string, sha: string, report: StatusReport) {
    const { data } = await forgeCall(`listing check runs on ${owner}/${repo}@${sha}`, () =>
      gh.request("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", {
        owner, repo, ref: sha, check_name: report.name, filter: "all", app_id: this.o.appId, per_page: 100,
      }),
    );
    const mine = data.check_runs.find((c) => c.external_id === report.externalId && c.app?.id === this.o.appId);
    return mine ? String(mine.id) : undefined;
  }

  private async objectType(gh: GithubClient, owner: string, repo: string, sha: string): Promise<string> {
    try {
      await gh.request("GET /repos/{owner}/{repo}/git/tags/{tag_sha}", { owner, repo, tag_sha: sha });
      return "tag";
    } catch (error) {
      if ((error as { status?: number }).status === 404) return "commit";
      throw classifyHttpError(error, `reading object ${sha} of ${owner}/${repo}`);
    }
  }
}

function rejectsRunDetails(error: unknown): boolean {
  const e = error as { status?: number; message?: string };
  return e.status === 400 || (e.status === 422 && /return_run_details/.test(e.message ?? ""));
}
