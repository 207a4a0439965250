import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Probot } from "probot";
import type { Config } from "../config/env.js";
import type { Systems } from "../forge/registry.js";
import type { HistoryStore } from "../history/history-store.js";
import type { DependencyMap } from "../map/graph.js";
import type { LiveMap } from "../map/live-map.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore } from "../report/check-store.js";
import type { CommitViews } from "../report/commit-views.js";
import type { Sinks } from "../sinks/sinks.js";
import type { SinkStats } from "../sinks/sink-stats.js";
import type { UpstreamSurface } from "../trust/upstream-surface.js";
import type { VisibilityStore } from "../trust/visibility-store.js";
import type { ProjectVisibility } from "../trust/visibility.js";
import type { HistoryAccess } from "../web/history-api.js";

/**
 * What src/relay.ts builds for every process and hands to the role it runs (src/roles/web-role.ts,
 * src/roles/worker-role.ts). Each role's module is imported only by a process that runs it, so a
 * web process never loads the workers, the forges' clients or the artifact registries, and a worker
 * never loads the web handlers and the dashboard (issue 22: idle memory).
 */
export interface RoleContext {
  config: Config;
  redisUrl: string;
  log: Logger;
  /** the stores' connection */
  redis: Redis;
  /** the queues' connection (BullMQ's commands are defined on it) */
  queueRedis: Redis;
  queues: Queues;
  map: () => DependencyMap;
  live: LiveMap;
  RelayProbot: typeof Probot;
  visibilityStore: VisibilityStore;
  visibility: ProjectVisibility;
  surface: UpstreamSurface;
  checks: CheckStore;
  views: CommitViews;
  history: HistoryStore;
  historyAccess: HistoryAccess;
  sinks: Sinks;
  stats: SinkStats;
  /** CloudEvents' `source` of the relay's events */
  eventSource: string;
  /** set by the worker role once its systems exist: the visibility look-up asks them */
  systems: { current?: Systems };
}
