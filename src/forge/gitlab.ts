import type { Project } from "../map/graph.js";
import { upsertMarkedComment, type CommentPlace } from "./comment-places.js";
import { ForgeError, forgeCall, type Hints } from "./errors.js";
import type { ForgeLimits, PipelineBudget } from "./minute-budget.js";
import type { Api } from "./gitlab-api.js";
import { isRelayOwnVariable } from "../map/secret-names.js";
import { RUN_FROM_GITLAB, commitStateOf, pipelineOutcome, type GitlabPipelineStatus } from "./gitlab-status.js";
import { gitlabVariables } from "./trigger-inputs.js";
import type {
  CheckConclusion, CommentIds, CommentMode, Forge, RunArtifact, RunStatus, StatusReport, StatusTarget, TagListing, TriggerResult, UpstreamContext,
} from "./roles.js";

export interface GitlabForgeOptions {
  /** GitLab root, e.g. https://gitlab.com (the API is at /api/v4) */
  url: string;
  token: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Another GitLab host named in the map (https://<host>), and the variable holding its token. */
  host?: string | undefined;
  tokenEnv?: string | undefined;
  budget?: PipelineBudget | undefined;
  /** pauses GitLab asked for (429 Retry-After, RateLimit-Reset), shared by every worker per host and token */
  limits?: ForgeLimits | undefined;
}

/** The pipeline variable carrying the relay run id (trigger-inputs.ts). */
const RUN_VARIABLE = "OPENCI_RUN";
/** GitLab's largest page. */
const TAGS_PAGE = 100;
const FINISHED_STATES = new Set(["success", "failed", "canceled", "skipped"]);

const clients = new Map<string, Api>();
/** The user each client's token acts as (GET /user, asked once per client): the author of the relay's own notes. */
const selves = new WeakMap<Api, Promise<number>>();

let gitlabApi: typeof import("./gitlab-api.js") | undefined;
let loadingApi: Promise<typeof import("./gitlab-api.js")> | undefined;
/**
 * @gitbeaker/rest (gitlab-api.ts), imported by the first GitLab call of the process, not at start: a
 * relay with no GitLab project never loads it. A failed import is a `config` error naming the
 * library, thrown to that call, and tried again by the next one.
 */
export function loadGitlabApi(): Promise<typeof import("./gitlab-api.js")> {
  if (gitlabApi) return Promise.resolve(gitlabApi);
  loadingApi ??= import("./gitlab-api.js").then(
    (module) => (gitlabApi = module),
    (error: unknown) => {
      loadingApi = undefined;
      throw new ForgeError(`GitLab cannot be reached: its client library (@gitbeaker/rest) failed to import: ${(error as Error)?.message ?? String(error)}`, "config", {
        cause: error, hint: "Reinstall the relay's dependencies (npm ci).",
      });
    },
  );
  return loadingApi;
}

/**
 * GitLab through @gitbeaker/rest, both ways: downstream pipelines are created (with the API token,
 * or a pipeline trigger token the map names), retried and read; upstream commits get commit
 * statuses and a failure comment on their merge requests or the commit.
 */
export class GitlabForge implements Forge {
  constructor(private readonly o: GitlabForgeOptions) {}

  async triggerPipeline(project: Project, ctx: UpstreamContext): Promise<TriggerResult> {
    const path = pathOf(project);
    const ref = project.trigger?.ref ?? "main";
    await this.spend(path);
    const triggerTokenEnv = project.trigger?.token_env;
    if (triggerTokenEnv !== undefined) {
      refuseRelayOwn(triggerTokenEnv);
      const token = this.o.env[triggerTokenEnv];
      if (!token) {
        throw new ForgeError(`no pipeline trigger token for ${path}`, "config", {
          hint: `Set ${triggerTokenEnv} to a pipeline trigger token of ${path} (Settings > CI/CD > Pipeline trigger tokens).`,
        });
      }
      const variables = Object.fromEntries(gitlabVariables(ctx).map((v) => [v.key, v.value]));
      // The token only in the body (gitbeaker's trigger() puts it in the query string), and only to this project's host.
      const pipeline = await this.call(`triggering a pipeline of ${path} on ${ref}`, async () =>
        (await loadGitlabApi()).postJson(`${this.root()}/api/v4/`, `projects/${encodeURIComponent(path)}/trigger/pipeline`, { token, ref, variables }), {
        400: `Check that '${ref}' exists in ${path} and that its .gitlab-ci.yml is valid.`,
        401: `${triggerTokenEnv} is not a valid pipeline trigger token of ${path}.`,
        404: `${path} was not found, or ${triggerTokenEnv} is not one of its trigger tokens.`,
      });
      return { kind: "pipeline", runId: String(pipeline.id), webUrl: String(pipeline.web_url) };
    }
    const pipeline = await this.call(`creating a pipeline of ${path} on ${ref}`, async () =>
      (await this.client()).Pipelines.create(path, ref, { variables: gitlabVariables(ctx) }), {
      400: `Check that '${ref}' exists in ${path} and that its .gitlab-ci.yml is valid.`,
      401: `Set ${this.tokenName()} to a token with the 'api' scope.`,
      403: `The token may not run pipelines in ${path}: it needs the Developer role there.`,
      404: `${path} was not found, or the token cannot see it.`,
    });
    return { kind: "pipeline", runId: String(pipeline.id), webUrl: String(pipeline.web_url) };
  }

  /** The latest pipelines of the trigger's ref since `since`, and the one whose OPENCI_RUN is this trigger's. */
  async findTriggered(project: Project, ctx: UpstreamContext, since: Date): Promise<TriggerResult | undefined> {
    const path = pathOf(project);
    const ref = project.trigger?.ref ?? "main";
    const updatedAfter = since.toISOString();
    const pipelines = await this.call(`listing the recent pipelines of ${path}`, async () =>
      (await this.client()).Pipelines.all(path, { ref, updatedAfter, orderBy: "id", sort: "desc", perPage: 20, maxPages: 1 }));
    for (const pipeline of pipelines) {
      const variables = await this.call(`reading the variables of pipeline ${pipeline.id} of ${path}`, async () => (await this.client()).Pipelines.allVariables(path, pipeline.id));
      if (variables.some((v) => v.key === RUN_VARIABLE && v.value === ctx.runId)) {
        return { kind: "pipeline", runId: String(pipeline.id), webUrl: String(pipeline.web_url) };
      }
    }
    return undefined;
  }

  /**
   * Retries a failed or canceled pipeline in place (its failed and canceled jobs); any other
   * (passed, still running) is not retried, since GitLab's retry would have no effect: undefined,
   * and the relay creates a new pipeline.
   */
  async retryRun(project: Project, runId: string): Promise<TriggerResult | undefined> {
    const path = pathOf(project);
    const current = await this.call(`reading pipeline ${runId} of ${path}`, async () => (await this.client()).Pipelines.show(path, Number(runId)), {
      404: `Pipeline ${runId} of ${path} is gone, or the token cannot see it.`,
    });
    if (current.status !== "failed" && current.status !== "canceled") return undefined;
    const pipeline = await this.call(`retrying pipeline ${runId} of ${path}`, async () => (await this.client()).Pipelines.retry(path, Number(runId)), {
      403: `The token may not retry pipelines in ${path}: it needs the Developer role there.`,
      404: `Pipeline ${runId} of ${path} is gone, or the token cannot see it.`,
    });
    return { kind: "pipeline", runId: String(pipeline.id), webUrl: String(pipeline.web_url) };
  }

  async runStatus(repo: string, runId: string): Promise<RunStatus> {
    const pipeline = await this.call(`reading pipeline ${runId} of ${repo}`, async () => (await this.client()).Pipelines.show(repo, Number(runId)));
    const mapped = RUN_FROM_GITLAB[pipeline.status as GitlabPipelineStatus] ?? { state: "in_progress" };
    return {
      state: mapped.state,
      conclusion: mapped.conclusion,
      webUrl: String(pipeline.web_url),
      startedAt: (pipeline.started_at as string | null) ?? undefined,
      updatedAt: (pipeline.finished_at as string | null) ?? (pipeline.updated_at as string | null) ?? undefined,
    };
  }

  async runArtifacts(repo: string, runId: string): Promise<RunArtifact[]> {
    const jobs = await this.call(`listing the jobs of pipeline ${runId} of ${repo}`, async () =>
      (await this.client()).Jobs.all(repo, { pipelineId: Number(runId) }));
    return jobs.flatMap((j) => {
      const file = j.artifacts_file as { filename?: string; size?: number } | null | undefined;
      if (!file?.filename || typeof j.web_url !== "string") return [];
      return [{ name: `${String(j.name)}/${file.filename}`, url: `${j.web_url}/artifacts/download`, ...(typeof file.size === "number" ? { size: file.size } : {}) }];
    });
  }

  async failedJobs(repo: string, runId: string): Promise<string[]> {
    const jobs = await this.call(`listing the jobs of pipeline ${runId} of ${repo}`, async () =>
      (await this.client()).Jobs.all(repo, { pipelineId: Number(runId), scope: "failed" }));
    return jobs.map((j) => String(j.name));
  }

  /** A Tag Push Hook names the commit (`checkout_sha`); otherwise the tag is read. */
  async listTags(repo: string): Promise<{ name: string; sha: string }[]> {
    const tags = await this.call(`listing the tags of ${repo}`, async () => (await this.readClient()).Tags.all(repo, { orderBy: "updated", perPage: TAGS_PAGE, maxPages: 1 }));
    return tags.map((t) => ({ name: String(t.name), sha: String((t.commit as { id: string }).id) }));
  }

  /**
   * A watched project's newest tags (`order_by=updated`, one page of 100): a public project is read
   * without a token where none is configured for its host ("accessible without authentication if the
   * repository is publicly accessible"). GitLab sends no ETag for this list, so every poll reads it.
   * A full page may not be every tag: it deletes nothing.
   */
  async watchTags(repo: string): Promise<TagListing> {
    const tags = await this.call(`listing the tags of ${repo}`, async () => (await this.readClient()).Tags.all(repo, { orderBy: "updated", sort: "desc", perPage: TAGS_PAGE, maxPages: 1 }), {
      401: `${repo} is not public: name a token_env with read_api on it in the map`,
      404: `${repo} was not found, or is not public: check the path, or name a token_env that can read it`,
    });
    return {
      notModified: false, etag: undefined, complete: tags.length < TAGS_PAGE,
      tags: tags.map((t) => ({ name: String(t.name), sha: String((t.commit as { id: string }).id) })),
    };
  }

  /**
   * The commit the tag names, read from GitLab whatever the delivery said: a Tag Push Hook is only
   * as good as its secret, so one naming a commit the tag is not on (forged, or the tag moved
   * since) is refused rather than believed.
   */
  async resolveTag(repo: string, tag: string, hintSha: string | undefined): Promise<string> {
    const found = await this.call(`reading tag ${tag} of ${repo}`, async () => (await this.readClient()).Tags.show(repo, tag), {
      404: `Tag ${tag} of ${repo} is gone, or the token cannot see ${repo}.`,
    });
    const commit = String((found.commit as { id: string }).id);
    if (hintSha !== undefined && hintSha !== commit && hintSha !== String(found.target)) {
      throw new ForgeError(`tag ${tag} of ${repo} is at ${commit.slice(0, 7)}, not at ${hintSha.slice(0, 7)} as the delivery said`, "config", {
        hint: "A forged Tag Push Hook, or the tag moved since: nothing is triggered for this delivery.",
      });
    }
    return commit;
  }

  /**
   * A commit status named like the GitHub check (`openci: <downstream>`). GitLab refuses to set the
   * state a status already has, so the state pushed last travels in the id (`<status id>:<state>`)
   * and an unchanged state is not sent again.
   */
  async reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string> {
    const state = commitStateOf(report.status, report.conclusion);
    if (remoteId?.endsWith(`:${state}`)) return remoteId;
    const ref = target.ref && !target.ref.startsWith("pull/") ? { ref: target.ref } : {};
    const url = report.detailsUrl && report.detailsUrl.length <= 255 ? { targetUrl: report.detailsUrl } : {};
    const description = report.title.slice(0, 255);
    // GitLab never refuses a finished state: it adds a second status of that name. A retry after a
    // lost answer must not show the result twice, so a finished status GitLab already has, exactly, stands.
    if (FINISHED_STATES.has(state)) {
      const statuses = await this.call(`listing the ${report.name} statuses of ${target.repo}@${target.sha.slice(0, 7)}`, async () =>
        (await this.client()).Commits.allStatuses(target.repo, target.sha, { name: report.name, ...ref }));
      const shown = [...statuses].sort((a, b) => Number(b.id) - Number(a.id))[0];
      if (shown?.status === state && shown.description === description && (shown.target_url ?? undefined) === url.targetUrl) return `${shown.id}:${state}`;
    }
    try {
      const status = await this.call(`setting the ${report.name} status of ${target.repo}@${target.sha.slice(0, 7)}`, async () =>
        (await this.client()).Commits.editStatus(target.repo, target.sha, state as "pending", {
          name: report.name, description, ...ref, ...url,
        }), {
        401: `Set ${this.tokenName()} to a token with the 'api' scope.`,
        403: `The token may not set commit statuses in ${target.repo}: it needs the Developer role there.`,
        404: `${target.repo}@${target.sha} was not found, or the token cannot see it.`,
      });
      return `${status.id}:${state}`;
    } catch (error) {
      // Already in that state (another writer got there): nothing left to say. Any other refused
      // transition is a real error.
      if (error instanceof ForgeError && error.status === 400 && new RegExp(`cannot transition status via :\\w+ from :${state}\\b`, "i").test(error.message)) {
        return `${remoteId?.split(":")[0] ?? "0"}:${state}`;
      }
      throw error;
    }
  }

  async visibility(repo: string): Promise<"public" | "private"> {
    // A public project answers without a token too ("accessible without authentication if the
    // project is publicly accessible"): a downstream triggered by trigger token alone is still known.
    const project = await this.call(`reading the visibility of ${repo}`, async () => (await this.readClient()).Projects.show(repo), {
      404: `${repo} was not found, or the token cannot see it.`,
    });
    // internal (any signed-in user) is not public either
    return project.visibility === "public" ? "public" : "private";
  }

  async upsertComment(target: StatusTarget, mode: CommentMode, marker: string, body: string, known: CommentIds): Promise<CommentIds> {
    const api = await this.client();
    const { repo, sha } = target;
    const self = await this.selfId(api);
    const own = (n: { author?: { id?: number } }) => n.author?.id === self;
    const mrs = mode === "commit" ? [] : await this.call(`listing the merge requests of ${repo}@${sha.slice(0, 7)}`, () => api.Commits.allMergeRequests(repo, sha));
    const iids = mrs.filter((mr) => mr.state !== "closed").map((mr) => Number(mr.iid));
    let places: CommentPlace[];
    if (iids.length > 0 || mode === "pull_request") {
      places = iids.map((iid) => ({
        key: `mr-${iid}`,
        list: async () => (await api.MergeRequestNotes.all(repo, iid, { perPage: 100, maxPages: 10 }))
          .filter((n) => n.system !== true).map((n) => ({ id: String(n.id), body: String(n.body), own: own(n as { author?: { id?: number } }) })),
        create: async (text) => String((await api.MergeRequestNotes.create(repo, iid, text)).id),
        update: async (id, text) => {
          await api.MergeRequestNotes.edit(repo, iid, Number(id), { body: text });
        },
      }));
    } else {
      // Commit comments cannot be edited through the API; a commit thread's note can.
      places = [{
        key: "commit",
        list: async () => (await api.CommitDiscussions.all(repo, sha, { perPage: 100, maxPages: 10 })).flatMap((d) =>
          ((d.notes ?? []) as { id: number; body: string; system?: boolean; author?: { id?: number } }[]).filter((n) => n.system !== true)
            .map((n) => ({ id: `${d.id}/${n.id}`, body: String(n.body), own: own(n) }))),
        create: async (text) => {
          const thread = await api.CommitDiscussions.create(repo, sha, text);
          return `${thread.id}/${(thread.notes as { id: number }[] | undefined)?.[0]?.id}`;
        },
        update: async (id, text) => {
          const [discussion, note] = id.split("/") as [string, string];
          await api.CommitDiscussions.editNote(repo, sha, discussion, Number(note), { body: text });
        },
      }];
    }
    return upsertMarkedComment(places, marker, body, known, repo);
  }

  /** The id of the user the token acts as: only notes it wrote are the relay's to find and edit. */
  private selfId(api: Api): Promise<number> {
    let id = selves.get(api);
    if (!id) {
      id = this.call("reading the token's own user", () => api.Users.showCurrentUser()).then((u) => Number(u.id));
      id.catch(() => selves.delete(api));
      selves.set(api, id);
    }
    return id;
  }

  /**
   * `pipeline`: the tag's latest pipeline, judged by its own jobs (pipelineOutcome); any other
   * name: the latest job of that name.
   */
  async checkState(repo: string, sha: string, name: string, ref?: string): Promise<{ completed: boolean; conclusion: CheckConclusion | undefined } | undefined> {
    const onRef = ref && !ref.startsWith("pull/") ? { ref } : {};
    let status: string | undefined;
    if (name === "pipeline") {
      const pipelines = await this.call(`listing the pipelines of ${repo}@${sha.slice(0, 7)}`, async () =>
        (await this.client()).Pipelines.all(repo, { sha, ...onRef, orderBy: "id", sort: "desc", perPage: 20, maxPages: 1 }));
      // an `external` pipeline is one GitLab made to hold commit statuses (the relay's): not the tag's CI
      const latest = pipelines.find((p) => p.source !== "external");
      if (!latest) return undefined;
      const jobs = await this.call(`listing the jobs of pipeline ${latest.id} of ${repo}`, async () =>
        (await this.client()).Jobs.all(repo, { pipelineId: Number(latest.id), perPage: 100, maxPages: 5 }));
      const outcome = jobs.length > 0
        ? pipelineOutcome(jobs.map((j) => ({ name: String(j.name), status: String(j.status), allow_failure: j.allow_failure as boolean | undefined })))
        : RUN_FROM_GITLAB[latest.status as GitlabPipelineStatus]?.conclusion;
      return outcome === undefined ? { completed: false, conclusion: undefined } : { completed: true, conclusion: outcome };
    } else {
      const statuses = await this.call(`listing the statuses of ${repo}@${sha.slice(0, 7)}`, async () =>
        (await this.client()).Commits.allStatuses(repo, sha, { name, ...onRef }));
      status = [...statuses].sort((a, b) => Number(b.id) - Number(a.id))[0]?.status as string | undefined;
    }
    const mapped = status === undefined ? undefined : RUN_FROM_GITLAB[status as GitlabPipelineStatus];
    return mapped && { completed: mapped.state === "completed", conclusion: mapped.conclusion };
  }

  async readFiles(repo: string, ref: string, dir: string): Promise<{ sha: string; files: { path: string; text: string }[] }> {
    const api = await this.client();
    const hints = { 404: `${repo}, '${ref}' or '${dir}' was not found, or the token cannot read ${repo} (it needs read_repository).` };
    const commit = await this.call(`reading ${ref} of ${repo}`, () => api.Commits.show(repo, ref), hints);
    const sha = String(commit.id);
    const prefix = dir.replace(/^\/+|\/+$/g, "");
    const tree = await this.call(`listing the files of ${repo}@${sha.slice(0, 7)}`, () =>
      api.Repositories.allRepositoryTrees(repo, { ...(prefix ? { path: prefix } : {}), ref: sha, recursive: true, perPage: 100, maxPages: 1000 }), hints);
    const files = [];
    for (const entry of tree.filter((e) => e.type === "blob" && /\.ya?ml$/.test(String(e.path)))) {
      const text = await this.call(`reading ${entry.path} of ${repo}`, () => api.RepositoryFiles.showRaw(repo, String(entry.path), sha), hints);
      files.push({ path: String(entry.path), text: typeof text === "string" ? text : await (text as Blob).text() });
    }
    return { sha, files };
  }

  async readFile(repo: string, path: string, ref?: string): Promise<string | undefined> {
    try {
      const text = await this.call(`reading ${path} of ${repo}`, async () => (await this.client()).RepositoryFiles.showRaw(repo, path, ref ?? "HEAD"));
      return typeof text === "string" ? text : await (text as Blob).text();
    } catch (error) {
      if (error instanceof ForgeError && error.status === 404) return undefined;
      throw error;
    }
  }

  openPullRequests(): Promise<never> {
    return Promise.reject(new ForgeError("testing merge requests of GitLab upstreams (pull_requests on an edge) is not supported", "config"));
  }
  checksPassed(): Promise<never> {
    return this.openPullRequests();
  }
  checkSuiteLabels(): Promise<never> {
    return Promise.reject(new ForgeError("GitLab has no check suites", "config"));
  }

  /** Waits for the project's pipeline-creation budget, as a rate-limited error the queue retries later. */
  private async spend(path: string): Promise<void> {
    const waitMs = await this.o.budget?.take(`${this.o.host ?? ""}/${this.tokenName()}/${path}`);
    if (waitMs !== undefined) {
      throw new ForgeError(`pipeline creations of ${path} over ${this.o.budget!.perMinute} a minute`, "rate_limited", { retryAfterMs: waitMs });
    }
  }

  /**
   * A GitLab call through gitbeaker, classified like every forge call (the requester keeps status
   * and headers). A token GitLab paused waits in the queue, in every worker, until the pause ends.
   */
  private async call<T>(what: string, fn: () => Promise<T>, hints: Record<number, string> = {}): Promise<T> {
    const asHints: Hints = Object.fromEntries(Object.entries(hints).map(([status, hint]) => [status, () => hint]));
    const call = () => forgeCall(what, fn, asHints);
    if (!this.o.limits) return call();
    return this.o.limits.guard(`gitlab:${this.o.host ?? new URL(this.o.url).host}:${this.tokenName()}`, [], `${what} (${this.tokenName()})`, call);
  }

  private tokenName(): string {
    return this.o.tokenEnv ?? "GITLAB_TOKEN";
  }

  /**
   * One client per host and token, so gitbeaker's client-side limits hold across jobs. GITLAB_TOKEN
   * is only ever sent to GITLAB_URL: another host needs its own variable (`token_env` in the map).
   */
  /** GITLAB_URL, or https://<host> for another host the map names. */
  private root(): string {
    return this.o.host ? `https://${this.o.host}` : this.o.url;
  }

  /** For reads: with the host's token where one is configured, else anonymous (a public project answers anyone). */
  private readClient(): Promise<Api> {
    const anonymous = this.o.host ? !this.o.tokenEnv || !this.o.env[this.o.tokenEnv] : this.o.tokenEnv ? !this.o.env[this.o.tokenEnv] : !this.o.token;
    return this.client(!anonymous);
  }

  private async client(withToken = true): Promise<Api> {
    const host = this.root();
    if (withToken && this.o.tokenEnv) refuseRelayOwn(this.o.tokenEnv);
    if (withToken && this.o.host && !this.o.tokenEnv) {
      throw new ForgeError(`no token variable for GitLab host ${this.o.host}`, "config", {
        hint: `Name one in the map (gitlab: { host: ${this.o.host}, project: …, token_env: NAME }); GITLAB_TOKEN is only sent to GITLAB_URL.`,
      });
    }
    const token = withToken ? (this.o.tokenEnv ? this.o.env[this.o.tokenEnv] : this.o.token) : undefined;
    if (withToken && !token) {
      throw new ForgeError(`no GitLab token for ${host}`, "config", { hint: `Set ${this.tokenName()} to a token with the 'api' scope.` });
    }
    const cacheKey = `${host}\u0000${token ?? ""}`;
    const { newClient } = gitlabApi ?? await loadGitlabApi();
    // looked up after the library is loaded: calls that waited for it together share one client
    let api = clients.get(cacheKey);
    if (!api) {
      api = newClient(host, token);
      clients.set(cacheKey, api);
    }
    return api;
  }
}

/** The map's validation refuses these names; a map built some other way still never sends them. */
function refuseRelayOwn(name: string): void {
  if (isRelayOwnVariable(name)) {
    throw new ForgeError(`the map names ${name}, the relay's own configuration, as a GitLab token`, "config", { hint: "Name a variable of its own in the map (token_env)." });
  }
}

function pathOf(project: Project): string {
  if (project.location.forge !== "gitlab") throw new Error(`GitlabForge cannot trigger ${project.id}`);
  return project.location.project;
}

