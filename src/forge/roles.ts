import type { Project } from "../map/graph.js";
import type { CheckConclusion, CheckStatus } from "./run-state.js";
import type { PublishedArtifact } from "../artifacts/published.js";

export type { CheckConclusion, CheckStatus };

/** What the downstream pipeline is told about the upstream that started it. */
export interface UpstreamContext {
  upstreamId: string;
  upstreamRepo: string;
  tag: string;
  sha: string;
  /** The relay run id: correlates the downstream run with this trigger. */
  runId: string;
  /** An `after_artifacts` edge: the release's artifacts as their registries published them (sent as openci_artifacts). */
  artifacts?: PublishedArtifact[] | undefined;
}

export interface TriggerResult {
  /** pipeline: GitLab; build: a Jenkins build (its run id is the queue item's, "queue:N", until and after it starts) */
  kind: "workflow_dispatch" | "repository_dispatch" | "pipeline" | "build";
  /** The downstream run's id when the forge returned one (GitHub: return_run_details). */
  runId: string | undefined;
  /** A page a person can open: the run itself, else the closest list of runs. */
  webUrl: string;
}

export interface RunStatus {
  state: "queued" | "in_progress" | "completed";
  conclusion: CheckConclusion | undefined;
  webUrl: string;
  startedAt: string | undefined;
  updatedAt: string | undefined;
}

export interface RunArtifact {
  name: string;
  url: string;
  size?: number | undefined;
}


/** One downstream, shown on the upstream commit (a check run on GitHub, a commit status on GitLab). */
export interface StatusReport {
  name: string;
  status: CheckStatus;
  conclusion: CheckConclusion | undefined;
  title: string;
  summary: string;
  detailsUrl: string | undefined;
  externalId: string;
  /** Names of the downstream's failing jobs, for the failure comment (not sent as part of the check). */
  failedJobs?: string[];
  /** Buttons on the check (GitHub requested actions): at most 3; label ≤ 20, description ≤ 40 characters. */
  actions?: { label: string; description: string; identifier: string }[];
  /**
   * The completed roll-up only: each downstream's result, for a reporter that writes one message
   * when all have ended (a Gerrit review). Never sent as part of a check or status.
   */
  members?: RollupMember[];
}

/** One downstream in a completed roll-up: its check's name, result, run, and relay run id (new at each re-run). */
export interface RollupMember {
  name: string;
  conclusion: CheckConclusion | undefined;
  detailsUrl: string | undefined;
  runId: string;
}

/** Where a failure comment goes: `auto` = the pull requests that brought the commit in, else the commit. */
export type CommentMode = "auto" | "commit" | "pull_request";

/** Comment ids by place ("pr-12", "commit"), as returned by a previous upsert. */
export type CommentIds = Record<string, string>;

export interface StatusTarget {
  repo: string;
  sha: string;
  /** the tag (or "pull/<n>") the commit was reported for */
  ref?: string | undefined;
}

/**
 * The roles a system plays in the relay's flow, each a small interface: a system implements the
 * roles it has (GitHub and GitLab all four; a git host only Source; a CI server only Runner), and
 * the flow asks `Systems` (registry.ts) for a role at a place, never for a system by name.
 */

/**
 * A conditional read of a repository's tags: `notModified` when they are as they were at `etag`
 * (the system answered 304: nothing read, nothing spent), else the whole set and the new ETag.
 */
export type TagListing =
  | { notModified: true; etag: string | undefined }
  | {
    notModified: false; tags: { name: string; sha: string }[]; etag: string | undefined;
    /**
     * false: only the newest tags (GitHub's GraphQL, GitLab's first page by date), so a known tag
     * missing from it is not taken as deleted; absent or true: every tag.
     */
    complete?: boolean;
  };

/**
 * A source that reads many repositories' tags in one go (GitHub: one GraphQL query per 50): the
 * watcher hands it every due upstream of its system at once instead of one poll each. `etag` is
 * what the source answered last time for that repository, given back as it was (opaque to the watcher).
 */
export interface BatchSource {
  /** how many repositories one request reads (GitHub's GraphQL: 50): the watcher fills its batches to a multiple of it */
  readonly batchSize: number;
  watchTagsOfMany(asks: { repo: string; etag: string | undefined }[]): Promise<Map<string, TagListing | Error>>;
}

/** Where tags and changes come from: an upstream's releases, its pull requests, whether it is public. */
export interface Source {
  /**
   * Every tag, asked with the ETag of the last answer where the system honours If-None-Match: what
   * the watcher reads. Optional: where absent, the watcher uses `listTags` (never a 304).
   */
  watchTags?(repo: string, etag: string | undefined): Promise<TagListing>;
  /** The repository's tags (the latest 100) and the commits they name: what the reconciler compares with what it has seen. */
  listTags(repo: string): Promise<{ name: string; sha: string }[]>;
  /** The commit a tag points to; `hintSha` is what the delivery named (maybe an annotated tag object). */
  resolveTag(repo: string, tag: string, hintSha: string | undefined): Promise<string>;
  /** Open pull requests whose head is this commit, and whether each comes from a fork. */
  openPullRequests(repo: string, sha: string): Promise<{ number: number; fork: boolean }[]>;
  /**
   * Whether the repository is public or private (GitHub `private`/`visibility`, GitLab `visibility`;
   * internal counts as private): what may be shown about it where anyone can read. Throws when the
   * system cannot tell (the caller then counts it as private).
   */
  visibility(repo: string): Promise<"public" | "private">;
}

/** Where downstream pipelines run: start one, find it again, follow it, read what it left. */
export interface Runner {
  triggerPipeline(project: Project, context: UpstreamContext): Promise<TriggerResult>;
  /**
   * The run an earlier attempt of this trigger started, when that attempt was cut off before it
   * could record the system's answer (a worker killed mid-call): found by the relay run id the run
   * carries (GitHub: in its `run-name`; GitLab: the OPENCI_RUN variable), among runs created since
   * `since` by the system's clock.
   */
  findTriggered(project: Project, context: UpstreamContext, since: Date): Promise<TriggerResult | undefined>;
  /**
   * The names, external ids and titles of a check suite's runs (only those started since `since`,
   * when given): where CI that reports through checks carries the relay run id.
   */
  checkSuiteLabels(repo: string, suiteId: string, since?: Date): Promise<string>;
  /** Where a downstream run stands now: the polling fallback where no webhook reports it. */
  runStatus(repo: string, runId: string): Promise<RunStatus>;
  /**
   * Runs a downstream run again in place where the system offers it (GitLab: retry the pipeline's
   * failed jobs), returning the run; undefined where it does not (GitHub: the relay triggers anew).
   */
  retryRun(project: Project, runId: string): Promise<TriggerResult | undefined>;
  /** Names of the jobs of a downstream run that failed (for the upstream summary). */
  failedJobs(repo: string, runId: string): Promise<string[]>;
  /** What a downstream run left behind: GitHub Actions artifacts, GitLab jobs' artifacts archives (pages people can open). */
  runArtifacts(repo: string, runId: string): Promise<RunArtifact[]>;
}

/** Where results are shown on an upstream's commits, and where the upstream's own CI results are read (gates). */
export interface Reporter {
  /** Creates or updates the status; `remoteId` is the id a previous call returned. Returns the id. */
  reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string>;
  /**
   * Creates or edits the one comment marked `marker` on the commit's pull requests or the commit
   * itself; `known` are ids a previous call returned. Never adds a second comment with the marker.
   */
  upsertComment(target: StatusTarget, mode: CommentMode, marker: string, body: string, known: CommentIds): Promise<CommentIds>;
  /** Whether every check suite on the commit (other than the relay's own) has passed, is pending, or failed. */
  checksPassed(repo: string, sha: string): Promise<"passed" | "pending" | "failed">;
  /**
   * The latest run of the check `name` on a commit (`ref`: the tag it was pushed as): what an
   * `after_check` gate waits for. GitLab: `pipeline` is the commit's pipeline, other names its jobs.
   */
  checkState(repo: string, sha: string, name: string, ref?: string): Promise<{ completed: boolean; conclusion: CheckConclusion | undefined } | undefined>;
}

/**
 * Where an upstream's own CI results are read (gates, pull-request tests): the reporter's, or another
 * system's (a Gerrit project's Zuul). `checkState` is what an `after_check` gate waits for.
 */
export type Checks = Pick<Reporter, "checksPassed" | "checkState">;

/** Where map files are read: a metadata repository, a downstream's own declaration. */
export interface Files {
  /**
   * The YAML files (.yml, .yaml) below `dir` ("" for all) at `ref` (a branch, tag or commit), and
   * the commit `ref` names: how map files are read from a metadata repository.
   */
  readFiles(repo: string, ref: string, dir: string): Promise<{ sha: string; files: { path: string; text: string }[] }>;
  /** One file on the default branch (or `ref`); undefined when there is no such file. */
  readFile(repo: string, path: string, ref?: string): Promise<string | undefined>;
}

/** A whole forge (GitHub, GitLab): every role. */
export type Forge = Source & Runner & Reporter & Files;
