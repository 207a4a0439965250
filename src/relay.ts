import type { Logger } from "pino";
import { Probot } from "probot";
import type { Config } from "./config/env.js";
import { RelayOctokit } from "./forge/github-octokit.js";
import type { DependencyMap } from "./map/graph.js";
import { createQueues } from "./queue/queues.js";
import { createRedis, mastersOf, waitForRedis } from "./redis/connection.js";
import { CheckStore } from "./report/check-store.js";
import { CommitViews } from "./report/commit-views.js";
import { LiveMap, type MapText } from "./map/live-map.js";
import { adoptStoredMap, followStoredMap } from "./map/map-store.js";
import { healthHandler } from "./web/health.js";
import { HistoryStore } from "./history/history-store.js";
import { HistoryReader } from "./history/history-reader.js";
import { Sinks } from "./sinks/sinks.js";
import { SinkStats } from "./sinks/sink-stats.js";
import { metricsHandler } from "./web/metrics-route.js";
import { serveProbes } from "./web/probes.js";
import { VisibilityStore } from "./trust/visibility-store.js";
import { ProjectVisibility } from "./trust/visibility.js";
import { UpstreamSurface } from "./trust/upstream-surface.js";
import { placeOf, repoOf } from "./map/graph.js";
import { mapOptionsOf } from "./map/map-options.js";
import type { RoleContext } from "./roles/context.js";

export interface RelayOptions {
  config: Config;
  /** the map read from OPENCI_MAP at start */
  map: DependencyMap;
  /** its texts, merged again with the metadata repository's files (OPENCI_MAP_REPO) */
  localMap?: MapText[];
  redisUrl: string;
  log: Logger;
}

export interface Relay {
  /** Where the process listens: the web role, or a worker-only process's health and metrics. */
  url: string | undefined;
  stop(): Promise<void>;
}

/** Wires the roles: `web` receives and enqueues, `worker` fans out, triggers and reports, `all` does both. */
export async function startRelay({ config, map: initialMap, localMap = [], redisUrl, log }: RelayOptions): Promise<Relay> {
  const redis = createRedis(redisUrl, "client");
  redis.on("error", (err) => log.warn({ err: err.message }, "redis connection error"));
  await waitForRedis(redis, redisUrl);
  await warnUnlessNoEviction(redis, log);
  // The queues on their own connection: BullMQ defines its 64 Lua commands on the connection it is
  // given, and ioredis copies every defined command onto each MULTI and pipeline made on it (about
  // 35 µs of CPU each); the relay's own stores make theirs on a connection without them.
  const queueRedis = createRedis(redisUrl, "client");
  queueRedis.on("error", (err) => log.warn({ err: err.message }, "redis connection error (queues)"));
  const queues = createQueues(queueRedis, log);
  const live = new LiveMap(initialMap, localMap, mapOptionsOf(config));
  const map = () => live.get();
  let subscriber: ReturnType<typeof createRedis> | undefined;
  let stopFollowing: (() => void) | undefined;
  {
    // Every process follows the stored sources (the metadata repository's last good version, the
    // downstreams' declarations), whoever read them.
    subscriber = createRedis(redisUrl, "worker");
    subscriber.on("error", (err) => log.warn({ err: err.message }, "redis subscriber error"));
    await adoptStoredMap(redis, live, log);
    stopFollowing = await followStoredMap(subscriber, redis, live, log, Math.min(config.mapRefreshMs, 60_000));
  }

  const RelayProbot = Probot.defaults({
    appId: config.appId,
    privateKey: config.privateKey,
    secret: config.webhookSecret,
    baseUrl: config.githubApiUrl,
    Octokit: RelayOctokit,
    log: log.child({ name: "probot" }),
  });

  // Every project's visibility: workers ask the forge when it is not known (web processes never do).
  const visibilityStore = new VisibilityStore(redis);
  const systems: RoleContext["systems"] = {};
  const visibility = new ProjectVisibility({
    map, store: visibilityStore, log,
    lookup: config.role === "web" ? undefined : (p) => {
      if (!systems.current) return Promise.reject(new Error("the worker's systems are not ready yet"));
      return systems.current.source(placeOf(p.location)).visibility(repoOf(p));
    },
  });
  const surface = new UpstreamSurface(map, visibility);
  const checks = new CheckStore(redis);
  const views = new CommitViews(redis, checks);
  const history = new HistoryStore(redis);
  const privacy = visibility;
  const historyAccess = { readers: HistoryReader.pair(history, privacy), tokens: { readToken: config.readToken, adminToken: config.adminToken } };
  const sinks = new Sinks(config.sinks, map, config.env);
  const stats = new SinkStats(redis);
  const eventSource = config.publicUrl ?? "/openci-relay";
  for (const s of sinks.list()) {
    if (s.kind === "http" && !s.secret) log.warn({ sink: s.id, set: s.secretFrom }, "subscriber has no secret: its deliveries fail until the variable is set");
    else if (s.unset.length > 0) log.warn({ sink: s.id, set: s.unset }, "subscriber names variables that are not set: its deliveries fail until they are");
  }
  const ctx: RoleContext = {
    config, redisUrl, log, redis, queueRedis, queues, map, live, RelayProbot, visibilityStore, visibility, surface, checks, views,
    history, historyAccess, sinks, stats, eventSource, systems,
  };
  // Each role's modules are loaded only by a process that runs it (src/roles/context.ts).
  const web = config.role !== "worker" ? await (await import("./roles/web-role.js")).startWebRole(ctx) : undefined;
  const worker = config.role !== "web" ? (await import("./roles/worker-role.js")).startWorkerRole(ctx, web?.probot) : undefined;

  if (config.reconcileMs > 0 && config.role !== "web") {
    await queues.events.upsertJobScheduler("reconcile", { every: config.reconcileMs }, { name: "reconcile", data: {} });
  }
  if (config.mapRepo && config.role !== "web") {
    // The scheduler's first run is at once; a restart meanwhile starts from the stored last good version.
    await queues.events.upsertJobScheduler("map-refresh", { every: config.mapRefreshMs }, { name: "map-refresh", data: { reason: "periodic" } });
  }

  // A worker-only process answers health checks and metrics scrapes (no webhooks, no dashboard):
  // what an orchestrator's readiness probe and Prometheus need of every replica.
  const probes = config.role === "worker" ? await serveProbes(config, [healthHandler(redis), metricsHandler(queues, redis)], log) : undefined;
  const url = web ? `http://${web.server.host}:${web.server.port}` : probes?.url;
  log.info({ role: config.role, projects: map().size, url }, "relay started");
  return {
    url,
    /** Stops accepting, lets active jobs finish (not waiting on a Redis that is gone), closes connections. */
    stop: async () => {
      stopFollowing?.();
      await worker?.stopPolling();
      await web?.stop();
      await probes?.close();
      const redisUp = redis.status === "ready";
      // Active jobs get the grace period to finish; past it they are handed back (stalled-job
      // recovery gives them to another worker) and the workers' timers stop, so nothing of this
      // process keeps running, or holds a job's lock, after stop() returns.
      await within(worker?.closeWorkers(!redisUp, STOP_GRACE_MS), (redisUp ? STOP_GRACE_MS : 0) + 1_000);
      worker?.stopPacing();
      await within(queues.close(), redisUp ? STOP_GRACE_MS : 500);
      await within(Promise.all([redis.quit(), queueRedis.quit(), worker?.quit(), subscriber?.quit()]), 500);
      redis.disconnect();
      queueRedis.disconnect();
      worker?.disconnect();
      subscriber?.disconnect();
    },
  };
}

const STOP_GRACE_MS = 10_000;

/** Waits for `work` at most `ms` (true when it ended in time); shutdown must finish even when Redis or a forge does not answer. */
async function within(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    (work ?? Promise.resolve()).then(() => true, () => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return ended;
}

/**
 * Queues and the history must never be evicted: a job or a record Redis drops under memory
 * pressure is lost without a trace. Says so loudly at start (managed Redis may hide CONFIG).
 */
async function warnUnlessNoEviction(redis: ReturnType<typeof createRedis>, log: Logger): Promise<void> {
  // On a Redis Cluster every master is asked: the one holding the relay's slot may change on a failover.
  const servers = mastersOf(redis);
  try {
    for (const server of servers) {
      const [, policy] = (await server.config("GET", "maxmemory-policy")) as [string, string];
      if (policy !== "noeviction") {
        const where = servers.length > 1 ? ` on ${server.options.host}:${server.options.port}` : "";
        log.warn({ policy }, `Redis maxmemory-policy is '${policy}'${where}, not 'noeviction': under memory pressure Redis would drop queued jobs and history records. Set 'maxmemory-policy noeviction'.`);
      }
    }
  } catch (err) {
    log.info({ err: (err as Error).message }, "could not read Redis's maxmemory-policy (CONFIG is disabled?): make sure it is 'noeviction'");
  }
}
