import { z } from "zod";
import { GITHUB_REPO, GITLAB_PATH } from "./places.js";

/** Dependency map, format v1. Every field is documented in README.md ("The dependency map"). */


const GithubRepo = z.string().regex(GITHUB_REPO, "must be 'owner/repo', e.g. acme/lib");

const EnvName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must name an environment variable (secrets are never written in the map)");

const GitlabLocation = z.union([
  z.string().regex(GITLAB_PATH, "must be a GitLab project path 'group/project', e.g. group/tool"),
  z.strictObject({
    /** Another GitLab instance than GITLAB_URL's; omitted: GITLAB_URL's. */
    host: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name, e.g. gitlab.example.org").optional(),
    project: z.string().regex(GITLAB_PATH, "must be a GitLab project path 'group/project'"),
    /** The variable holding an API token for that host (default GITLAB_TOKEN). */
    token_env: EnvName.optional(),
    /** The variable holding this project's webhook secret token, accepted besides GITLAB_WEBHOOK_SECRET. */
    webhook_secret_env: EnvName.optional(),
  }),
]);

const Duration = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, "must be a duration such as 30m, 6h or 1d");

const Trigger = z.strictObject({
  /** GitHub Actions: the workflow file name (or id) to dispatch with workflow_dispatch. */
  workflow: z.union([z.string().min(1), z.number().int().positive()]).optional(),
  /** GitHub: send a repository_dispatch with this event_type instead of a workflow_dispatch. */
  event_type: z.string().min(1).max(100, "must be at most 100 characters (GitHub's limit)").optional(),
  /** The branch or tag the downstream pipeline runs on. */
  ref: z.string().min(1).optional(),
  /** GitLab: the variable holding a pipeline trigger token; without it the API token creates the pipeline. */
  token_env: EnvName.optional(),
});

const Report = z.strictObject({
  comment: z.enum(["auto", "commit", "pull_request", "none"]).optional(),
});

const Edge = z.strictObject({
  project: z.string().min(1),
  /** Glob matched against the upstream tag name (e.g. "v*"); every tag when omitted. */
  tags: z.string().min(1).default("*"),
  after_check: z.string().min(1).optional(),
  timeout: Duration.optional(),
  report: Report.optional(),
  /** Also test the upstream's pull requests once their checks pass; forks only with `{ forks: true }`. */
  pull_requests: z.union([z.boolean(), z.strictObject({ forks: z.boolean() })]).optional(),
});

const Project = z.strictObject({
  id: z.string().min(1).max(200),
  github: GithubRepo.optional(),
  gitlab: GitlabLocation.optional(),
  trigger: Trigger.optional(),
  depends_on: z.array(Edge).optional(),
  report: Report.optional(),
});

export const MapV1 = z.strictObject({
  version: z.literal(1).optional(),
  projects: z.array(Project),
});

export type MapV1 = z.infer<typeof MapV1>;
export type MapProject = z.infer<typeof Project>;
export type MapEdge = z.infer<typeof Edge>;
export type MapTrigger = z.infer<typeof Trigger>;
export type MapReport = z.infer<typeof Report>;
