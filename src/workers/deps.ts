import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Systems } from "../forge/registry.js";
import type { ArtifactRegistries } from "../artifacts/artifacts.js";
import type { GithubApps } from "../forge/github-apps.js";
import type { Recorder } from "../history/recorder.js";
import type { DependencyMap } from "../map/graph.js";
import type { LiveMap } from "../map/live-map.js";
import type { MapRepoSpec } from "../map/map-repo.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore } from "../report/check-store.js";
import type { Gates } from "../report/gates.js";
import type { CommitViews } from "../report/commit-views.js";
import type { TriggerRecords } from "../report/trigger-records.js";
import type { SeenTags } from "../report/seen-tags.js";
import type { UpstreamSurface } from "../trust/upstream-surface.js";
import type { DeclaredQuota } from "../trust/declared-quota.js";
import type { ProjectVisibility } from "../trust/visibility.js";
import type { VisibilityStore } from "../trust/visibility-store.js";

/** What every processor needs; built once per worker process. */
export interface WorkerDeps {
  map: () => DependencyMap;
  queues: Queues;
  checks: CheckStore;
  records: TriggerRecords;
  /** the tags seen per upstream, for the reconciler */
  seen: SeenTags;
  /** fan-out caps (OPENCI_MAX_TRIGGERS_PER_EVENT, OPENCI_MAX_TRIGGERS_PER_CHAIN) */
  limits?: { perEvent: number; perChain: number } | undefined;
  /** the GitHub App, for its own endpoints (failed webhook deliveries) */
  githubApps?: GithubApps | undefined;
  gates: Gates;
  /** every project's visibility (the map's word, then the forge's; unknown counts as private) */
  visibility: ProjectVisibility;
  /** where deliveries' word on visibility is kept (it travels in their jobs' data) */
  visibilityStore: VisibilityStore;
  /** who may be shown on an upstream's commit, and which edges an upstream's events may trigger */
  surface: UpstreamSurface;
  /** triggers along self-declared edges, per owner and day */
  declaredQuota: DeclaredQuota;
  views: CommitViews;
  /** the systems the relay talks to, asked by role at a place (source, runner, reporter, files) */
  systems: Systems;
  /** where releases' artifacts are published, by package URL type (the `after_artifacts` gate asks them) */
  artifacts: ArtifactRegistries;
  /** the immutable history (and, through it, the CDEvents subscribers) */
  history: Recorder;
  redis: Redis;
  log: Logger;
  /** OPENCI_REPORT_SETTLE_MS: how long a new upstream check state waits before it is written (report/settle.ts); absent or 0: at once */
  reportSettleMs?: number | undefined;
  /** OPENCI_JOB_LOCK_MS: how long a job (and the upstream check it writes) stays locked between renewals */
  jobLockMs?: number | undefined;
  /** how often downstream runs without a webhook to the relay are polled */
  pollIntervalMs: number;
  /** OPENCI_WATCH_INTERVAL_MS: how often a watched upstream's tags are read, unless its map entry says */
  watchIntervalMs?: number | undefined;
  /** the live map and the metadata repository it is refreshed from, when OPENCI_MAP_REPO is set */
  live?: LiveMap | undefined;
  mapRepo?: MapRepoSpec | undefined;
}
