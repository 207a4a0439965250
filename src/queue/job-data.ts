import { SYSTEM_KINDS } from "../forge/kinds.js";
import { z } from "zod";
import { RunEvent } from "../events/run-event.js";
import { TagEvent } from "../events/tag-event.js";
import { PublishedArtifact } from "../artifacts/published.js";

export { RunEvent, TagEvent };

const Sha = z.string().regex(/^[0-9a-f]{40}$/);

/** Where the upstream commit lives and how to write to it; all targets come from the map. */
export const UpstreamRef = z.object({
  projectId: z.string(),
  forge: z.enum(SYSTEM_KINDS),
  /** GitLab: the instance's host when it is not GITLAB_URL's (then the map names it) */
  host: z.string().optional(),
  repo: z.string(),
  installationId: z.number().int().positive().optional(),
  tag: z.string(),
  sha: Sha,
});
export type UpstreamRef = z.infer<typeof UpstreamRef>;

export const TriggerJob = z.object({
  runId: z.string(),
  upstream: UpstreamRef,
  downstreamId: z.string(),
  checkName: z.string(),
  deliveryId: z.string(),
  enqueuedAt: z.iso.datetime(),
  /** 0 for the first trigger of a downstream on a commit, n for its n-th re-run. */
  attempt: z.number().int().min(0).default(0),
  /** A re-run: the downstream run to retry where the forge can (GitLab retries the pipeline); else a new trigger. */
  retryOf: z.string().optional(),
  /**
   * A cascade: triggered because the run of the project before it passed. `id` is the relay run id
   * that started the chain; `path` the projects from the upstream that tagged to this downstream.
   */
  chain: z.object({
    id: z.string(), path: z.array(z.string()).min(2),
    /** the relay run of the project before this one, whose passing run caused this trigger */
    from: z.string().optional(),
  }).optional(),
  /** When the upstream delivery that caused it arrived (for the tag → trigger latency). */
  receivedAt: z.iso.datetime().optional(),
  /** A re-run: the relay run id it runs again (the history links the two). */
  rerunOf: z.string().optional(),
  /** An `after_artifacts` edge: the release's artifacts, published, as the gate found them (given to the downstream). */
  artifacts: z.array(PublishedArtifact).optional(),
});
export type TriggerJob = z.infer<typeof TriggerJob>;

/** One CDEvent (the record `cid`) to deliver to one subscriber. Secrets are read at delivery, never queued. */
export const SinkJob = z.object({
  sinkId: z.string().min(1),
  cid: z.string().min(1),
  /** where the record is kept: a private one is read, and sent, only for a sink that accepts private events */
  scope: z.enum(["public", "private"]).default("public"),
});
export type SinkJob = z.input<typeof SinkJob>;

export const ReportJob = z.object({
  checkKey: z.string(),
  /** the version recorded when the push was queued (absent in jobs queued before it was kept) */
  version: z.number().int().optional(),
});
export type ReportJob = z.infer<typeof ReportJob>;

export const TimeoutJob = z.object({
  trigger: TriggerJob,
  /** the edge's timeout as written in the map, e.g. "6h" */
  timeout: z.string(),
});
export type TimeoutJob = z.infer<typeof TimeoutJob>;

/**
 * One look of an `after_artifacts` gate at a release's artifacts: triggers the downstream once every
 * one is published, else looks again (`round` + 1, after a backoff) until `deadline`, then skips it.
 */
export const ArtifactGateJob = z.object({
  trigger: TriggerJob,
  /** the package URLs at the release's version */
  artifacts: z.array(z.string()).min(1),
  /** when the wait ends (the edge's timeout after the gate began) */
  deadline: z.iso.datetime(),
  /** the edge's timeout as written, for the skipped check's text */
  timeout: z.string(),
  round: z.number().int().min(0),
  /** how many were published at the last look, so the upstream check is written only when it changes */
  seen: z.number().int().min(0).default(0),
});
export type ArtifactGateJob = z.infer<typeof ArtifactGateJob>;

/** The next look at an upstream check that no hook reports (a Gerrit project's Zuul pipeline), for the gate waiting on it. */
export const GatePollJob = z.object({
  forge: z.enum(SYSTEM_KINDS),
  host: z.string().optional(),
  repo: z.string().min(1),
  sha: z.string().min(1),
  /** the check (a Zuul pipeline) */
  name: z.string().min(1),
  /** the tag */
  ref: z.string().min(1),
  round: z.number().int().min(0),
  /** when looking stops: the gated edges' longest timeout after the gate began */
  deadline: z.iso.datetime(),
});
export type GatePollJob = z.infer<typeof GatePollJob>;

export const PollJob = z.object({
  relayRunId: z.string(),
  round: z.number().int().min(1),
});
export type PollJob = z.infer<typeof PollJob>;

/** Read the metadata repository's maps again: at start, periodically, or for a push to it. */
export const MapRefreshJob = z.object({
  reason: z.enum(["start", "periodic", "push"]),
  /** the pushed commit, for a push */
  sha: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  deliveryId: z.string().optional(),
});
export type MapRefreshJob = z.infer<typeof MapRefreshJob>;

/** Read a downstream's own declaration again (.github/openci.yml, .gitlab/openci.yml). */
export const DeclarationJob = z.object({
  forge: z.enum(["github", "gitlab"]),
  host: z.string().optional(),
  repo: z.string().min(1),
  reason: z.enum(["installed", "push"]),
  /** the pushed commit, for a push */
  sha: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().optional(),
});
export type DeclarationJob = z.infer<typeof DeclarationJob>;

/** Read one watched upstream's tags now (the watcher's tick queues it when due). */
export const WatchPollJob = z.object({
  upstream: z.string().min(1),
});
export type WatchPollJob = z.infer<typeof WatchPollJob>;

/** Read the tags of several watched upstreams of one system at once (one GraphQL query per 50 on GitHub). */
export const WatchBatchJob = z.object({
  forge: z.enum(SYSTEM_KINDS),
  upstreams: z.array(z.string().min(1)).min(1),
});
export type WatchBatchJob = z.infer<typeof WatchBatchJob>;
