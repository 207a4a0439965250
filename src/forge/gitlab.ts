import { Gitlab } from "@gitbeaker/rest";
import type { Project } from "../map/graph.js";
import { ForgeError, forgeCall, type Hints } from "./errors.js";
import { RUN_FROM_GITLAB, type GitlabPipelineStatus } from "./gitlab-status.js";
import { gitlabVariables } from "./trigger-inputs.js";
import type { Forge, RunStatus, StatusReport, StatusTarget, TriggerResult, UpstreamContext } from "./types.js";

export interface GitlabForgeOptions {
  /** GitLab root, e.g. https://gitlab.com (the API is at /api/v4) */
  url: string;
  token: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * GitLab as a downstream: pipelines are created with the API token (GITLAB_TOKEN, or the variable
 * a project on another host names in the map) and their results polled. GitLab as an upstream
 * (tags, commit statuses, merge request notes) is not relayed yet: those calls say so.
 */
export class GitlabForge implements Forge {
  constructor(private readonly o: GitlabForgeOptions) {}

  async triggerPipeline(project: Project, ctx: UpstreamContext): Promise<TriggerResult> {
    const api = this.client(project);
    const path = this.path(project);
    const ref = project.trigger?.ref ?? "main";
    const variables = gitlabVariables(ctx);
    const pipeline = await call(`creating a pipeline of ${path} on ${ref}`, () => api.Pipelines.create(path, ref, { variables }), {
      400: `Check that '${ref}' exists in ${path} and that its .gitlab-ci.yml is valid.`,
      401: "Set GITLAB_TOKEN (or the project's token_env) to a token with the 'api' scope.",
      403: `The token may not run pipelines in ${path}: it needs the Developer role there.`,
      404: `${path} was not found, or the token cannot see it.`,
    });
    return { kind: "pipeline", runId: String(pipeline.id), webUrl: String(pipeline.web_url) };
  }

  async runStatus(repo: string, runId: string): Promise<RunStatus> {
    const pipeline = await call(`reading pipeline ${runId} of ${repo}`, () => this.client().Pipelines.show(repo, Number(runId)));
    const mapped = RUN_FROM_GITLAB[pipeline.status as GitlabPipelineStatus] ?? { state: "in_progress" };
    return {
      state: mapped.state,
      conclusion: mapped.conclusion,
      webUrl: String(pipeline.web_url),
      startedAt: (pipeline.started_at as string | null) ?? undefined,
      updatedAt: (pipeline.finished_at as string | null) ?? (pipeline.updated_at as string | null) ?? undefined,
    };
  }

  async failedJobs(repo: string, runId: string): Promise<string[]> {
    const jobs = await call(`listing the jobs of pipeline ${runId} of ${repo}`, () =>
      this.client().Jobs.all(repo, { pipelineId: Number(runId), scope: "failed" }));
    return jobs.map((j) => String(j.name));
  }

  resolveTag(): Promise<string> {
    return upstreamNotYet();
  }
  reportStatus(_t: StatusTarget, _r: StatusReport): Promise<string> {
    return upstreamNotYet();
  }
  upsertComment(): Promise<Record<string, string>> {
    return upstreamNotYet();
  }
  checkState(): Promise<undefined> {
    return upstreamNotYet();
  }
  openPullRequests(): Promise<{ number: number; fork: boolean }[]> {
    return upstreamNotYet();
  }
  checksPassed(): Promise<"passed"> {
    return upstreamNotYet();
  }
  checkSuiteLabels(): Promise<string> {
    return upstreamNotYet();
  }

  private client(project?: Project) {
    const location = project?.location.forge === "gitlab" ? project.location : undefined;
    const host = location?.host ? `https://${location.host}` : this.o.url;
    const token = location?.tokenEnv ? this.o.env[location.tokenEnv] : this.o.token;
    if (!token) {
      throw new ForgeError(`no GitLab token for ${host}`, "config", {
        hint: location?.tokenEnv ? `Set ${location.tokenEnv} to a token with the 'api' scope.` : "Set GITLAB_TOKEN to a token with the 'api' scope.",
      });
    }
    return new Gitlab({ host, token });
  }

  private path(project: Project): string {
    if (project.location.forge !== "gitlab") throw new Error(`GitlabForge cannot trigger ${project.id}`);
    return project.location.project;
  }
}

function upstreamNotYet(): never {
  throw new ForgeError("GitLab projects are not relayed as upstreams yet", "config");
}

/** A GitLab call through gitbeaker, classified like every forge call. */
function call<T>(what: string, fn: () => Promise<T>, hints: Record<number, string> = {}): Promise<T> {
  const asHints: Hints = Object.fromEntries(Object.entries(hints).map(([status, hint]) => [status, () => hint]));
  return forgeCall(what, fn, asHints, gitbeakerError);
}

/** gitbeaker puts the HTTP status on `cause.response`; classifyHttpError wants it on the error. */
function gitbeakerError(error: unknown): unknown {
  const cause = (error as { cause?: { response?: Response; description?: string } })?.cause;
  const response = cause?.response;
  if (!response || typeof response.status !== "number") return error;
  return {
    status: response.status,
    message: cause?.description ?? (error as Error).message,
    response: { headers: Object.fromEntries(response.headers?.entries?.() ?? []), data: { message: cause?.description } },
  };
}
