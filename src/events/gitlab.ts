import { z } from "zod";
import { WebUrl } from "./payload-fields.js";
import { GITLAB_PATH } from "../map/places.js";
import { GITLAB_PIPELINE_STATUSES, RUN_FROM_GITLAB, isRelayStatus, pipelineOutcome } from "../forge/gitlab-status.js";
import type { CheckConclusion } from "../forge/run-state.js";
import type { CheckEvent } from "./check-event.js";
import { parsePayload } from "./parse-payload.js";
import type { RunEvent } from "./run-event.js";
import type { TagEvent } from "./tag-event.js";

/** GitLab writes "2016-08-12 15:23:28 UTC"; the relay keeps ISO 8601. */
const GitlabTime = z.string().transform((t) => {
  const iso = t.replace(/ UTC$/, "Z").replace(" ", "T");
  return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
});
const PATH = z.string().regex(GITLAB_PATH, "is not a GitLab project path");
const SHA = z.string().regex(/^[0-9a-f]{40}$/);
const ZERO_SHA = /^0{40}$/;
/** Git forbids most of these in ref names; a payload carrying them is not a real tag. */
const TAG_REF = z.string().max(266).regex(/^refs\/tags\/[^\s~^:?*[\\]+$/, "is not a tag ref (refs/tags/<name>)");
const Project = z.object({ path_with_namespace: PATH, web_url: WebUrl });

const TagPushHook = z.object({
  object_kind: z.literal("tag_push"),
  ref: TAG_REF,
  after: SHA,
  checkout_sha: SHA.nullable().optional(),
  project: Project,
});

const PipelineHook = z.object({
  object_kind: z.literal("pipeline"),
  object_attributes: z.object({
    id: z.number().int().positive(),
    status: z.enum(GITLAB_PIPELINE_STATUSES),
    ref: z.string().max(255).optional(),
    tag: z.boolean().optional(),
    sha: SHA.optional(),
    url: WebUrl.optional(),
    created_at: GitlabTime.nullable().optional(),
    finished_at: GitlabTime.nullable().optional(),
  }),
  /** the pipeline's jobs, with the relay's own commit statuses among them */
  builds: z.array(z.object({ name: z.string(), status: z.string(), allow_failure: z.boolean().optional() })).optional(),
  project: Project,
});

const JobHook = z.object({
  object_kind: z.literal("build"),
  sha: SHA,
  build_name: z.string().min(1).max(255),
  build_status: z.enum(GITLAB_PIPELINE_STATUSES),
  ref: z.string().max(255).optional(),
  tag: z.boolean().optional(),
  project: Project.pick({ path_with_namespace: true }),
});

/** What one GitLab delivery asks of the relay: jobs for the `events` queue, by name. */
export type GitlabWork =
  | { name: "tag"; data: TagEvent }
  | { name: "run"; data: RunEvent }
  | { name: "check"; data: CheckEvent };

export interface GitlabDelivery {
  event: string;
  body: unknown;
  deliveryId: string;
  /** the sending instance's host when it is not GITLAB_URL's */
  host: string | undefined;
}

/**
 * `Tag Push Hook` → a TagEvent (a deletion, `after` all zeros, triggers nothing); `Pipeline Hook` →
 * a RunEvent for a downstream's pipeline and, for a tag's pipeline whose own jobs have ended, a
 * CheckEvent named `pipeline` for `after_check` gates; `Job Hook` of a tag → a CheckEvent named
 * after the job once it ends. Others: nothing.
 */
export function normaliseGitlab(d: GitlabDelivery, now: Date = new Date()): GitlabWork[] {
  const host = d.host === undefined ? {} : { host: d.host };
  switch (d.event) {
    case "Tag Push Hook": {
      const p = parsePayload(TagPushHook, d.body, "Tag Push Hook");
      if (ZERO_SHA.test(p.after)) return [];
      return [{
        name: "tag",
        data: {
          forge: "gitlab", ...host, repo: p.project.path_with_namespace, tag: p.ref.slice("refs/tags/".length),
          sha: p.checkout_sha ?? p.after, source: "tag_push", deliveryId: d.deliveryId, receivedAt: now.toISOString(),
        },
      }];
    }
    case "Pipeline Hook": {
      const { object_attributes: a, builds, project } = parsePayload(PipelineHook, d.body, "Pipeline Hook");
      const mapped = RUN_FROM_GITLAB[a.status];
      const run: GitlabWork = {
        name: "run",
        data: {
          forge: "gitlab", source: "pipeline_hook", ...host, repo: project.path_with_namespace, runId: String(a.id), title: "",
          state: mapped.state, conclusion: mapped.conclusion, webUrl: a.url ?? `${project.web_url}/-/pipelines/${a.id}`,
          startedAt: a.created_at ?? undefined, updatedAt: a.finished_at ?? undefined, deliveryId: d.deliveryId,
        },
      };
      // Gates wait for a tag's pipeline, judged by its own jobs (see pipelineOutcome); not for a branch's.
      if (a.tag !== true || a.sha === undefined) return [run];
      const outcome = builds === undefined ? mapped.conclusion : pipelineOutcome(builds);
      if (outcome === undefined) return [run];
      return [run, check(project.path_with_namespace, a.sha, "pipeline", outcome, d, host, a.ref)];
    }
    case "Job Hook": {
      const p = parsePayload(JobHook, d.body, "Job Hook");
      if (p.tag !== true || isRelayStatus(p.build_name)) return [];
      const outcome = RUN_FROM_GITLAB[p.build_status].conclusion;
      if (RUN_FROM_GITLAB[p.build_status].state !== "completed" || outcome === undefined) return [];
      return [check(p.project.path_with_namespace, p.sha, p.build_name, outcome, d, host, p.ref)];
    }
    default:
      return [];
  }
}

function check(repo: string, sha: string, name: string, conclusion: CheckConclusion, d: GitlabDelivery, host: { host?: string }, ref: string | undefined): GitlabWork {
  return { name: "check", data: { forge: "gitlab", ...host, repo, sha, name, conclusion, ...(ref ? { ref } : {}), deliveryId: d.deliveryId } };
}

const PushHook = z.object({
  object_kind: z.literal("push"),
  ref: z.string().max(300),
  after: SHA,
  project: Project.extend({ default_branch: z.string().optional() }),
  commits: z.array(z.object({ added: z.array(z.string()).optional(), modified: z.array(z.string()).optional(), removed: z.array(z.string()).optional() })).optional(),
  total_commits_count: z.number().int().optional(),
});

/** `Push Hook` to a branch (not a deletion): the metadata repository's map files may have changed. */
export function normaliseGitlabBranchPush(event: string, body: unknown): { repo: string; branch: string; sha: string } | null {
  if (event !== "Push Hook") return null;
  const p = parsePayload(PushHook, body, "Push Hook");
  if (!p.ref.startsWith("refs/heads/") || ZERO_SHA.test(p.after)) return null;
  return { repo: p.project.path_with_namespace, branch: p.ref.slice("refs/heads/".length), sha: p.after };
}

/** `Push Hook` to the default branch touching a downstream's declaration at `path`. */
export function normaliseGitlabDeclarationPush(event: string, body: unknown, path: string): { repo: string; sha: string } | null {
  if (event !== "Push Hook") return null;
  const p = parsePayload(PushHook, body, "Push Hook");
  const branch = p.project.default_branch;
  if (branch === undefined || p.ref !== `refs/heads/${branch}` || ZERO_SHA.test(p.after)) return null;
  // GitLab lists at most 20 commits of a push: with more, the file may have changed unseen.
  const unseen = (p.total_commits_count ?? 0) > (p.commits ?? []).length;
  const touched = unseen || (p.commits ?? []).some((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])].includes(path));
  return touched ? { repo: p.project.path_with_namespace, sha: p.after } : null;
}
