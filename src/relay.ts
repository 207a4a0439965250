import type { Logger } from "pino";
import { Probot, Server } from "probot";
import type { Config } from "./config/env.js";
import { GithubApps } from "./forge/github-apps.js";
import { RelayOctokit } from "./forge/github-octokit.js";
import { ForgeLimits, PipelineBudget } from "./forge/minute-budget.js";
import { forgeDriver, Systems } from "./forge/registry.js";
import { WritePacer } from "./forge/write-pacer.js";
import { GithubForge } from "./forge/github.js";
import { GitlabForge } from "./forge/gitlab.js";
import { GitHostSource } from "./forge/git-host.js";
import { gerritDriver } from "./forge/gerrit-driver.js";
import { jenkinsDriver } from "./forge/jenkins-driver.js";
import { jenkinsNotifications } from "./web/jenkins-notifications.js";
import { startGerritStreams, type GerritStreams } from "./workers/gerrit-streams.js";
import { GithubWatchSource } from "./forge/github-watch.js";
import { ArtifactRegistries } from "./artifacts/artifacts.js";
import { OciArtifacts } from "./artifacts/oci-artifacts.js";
import { PypiArtifacts } from "./artifacts/pypi.js";
import { GoProxyArtifacts } from "./artifacts/golang.js";
import { MavenArtifacts } from "./artifacts/maven.js";
import { NpmArtifacts } from "./artifacts/npm.js";
import { GithubReleaseArtifacts } from "./artifacts/github-release.js";
import type { DependencyMap } from "./map/graph.js";
import { createQueues } from "./queue/queues.js";
import { createRedis, mastersOf, waitForRedis } from "./redis/connection.js";
import { CheckStore } from "./report/check-store.js";
import { CommitViews } from "./report/commit-views.js";
import { Gates } from "./report/gates.js";
import { TriggerRecords } from "./report/trigger-records.js";
import { SeenTags } from "./report/seen-tags.js";
import { githubDeliveries, githubWebhooks } from "./web/github-webhooks.js";
import { githubIntake } from "./web/github-intake.js";
import { LiveMap, type MapText } from "./map/live-map.js";
import { adoptStoredMap, followStoredMap } from "./map/map-store.js";
import { gitlabWebhooks, type GitlabWebhookOptions } from "./web/gitlab-webhooks.js";
import { rerunsApi } from "./web/reruns-api.js";
import { healthHandler } from "./web/health.js";
import { guard, type Handler } from "./web/http.js";
import { freePort } from "./util/free-port.js";
import { startWorkers, type Workers } from "./workers/start.js";
import { startWatcher, watchTickMs, type Watcher } from "./workers/watch.js";
import { HistoryStore } from "./history/history-store.js";
import { Recorder } from "./history/recorder.js";
import { HistoryReader } from "./history/history-reader.js";
import { Sinks } from "./sinks/sinks.js";
import { SinkStats } from "./sinks/sink-stats.js";
import { TransportPool } from "./sinks/transport-pool.js";
import { historyApi } from "./web/history-api.js";
import { EventStreams } from "./web/event-stream.js";
import { sinksApi } from "./web/sinks-api.js";
import { watchApi } from "./web/watch-api.js";
import { dashboard } from "./web/dashboard/routes.js";
import { adminViews } from "./web/admin.js";
import { metricsHandler } from "./web/metrics-route.js";
import { gateIntake } from "./web/intake-gate.js";
import { serveProbes } from "./web/probes.js";
import { VisibilityStore } from "./trust/visibility-store.js";
import { ProjectVisibility } from "./trust/visibility.js";
import { UpstreamSurface } from "./trust/upstream-surface.js";
import { DeclaredQuota } from "./trust/declared-quota.js";
import { placeOf, repoOf } from "./map/graph.js";
import { mapOptionsOf } from "./map/map-options.js";

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
  let systems: Systems | undefined;
  const visibility = new ProjectVisibility({
    map, store: visibilityStore, log,
    lookup: config.role === "web" ? undefined : (p) => {
      if (!systems) return Promise.reject(new Error("the worker's systems are not ready yet"));
      return systems.source(placeOf(p.location)).visibility(repoOf(p));
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
  let stream: EventStreams | undefined;
  let server: Server | undefined;
  let probot: Probot | undefined;
  if (config.role !== "worker") {
    // Probot's Server treats port 0 as "use 3000"; pick the free port ourselves.
    const port = config.port === 0 ? await freePort() : config.port;
    server = new Server({ Probot: RelayProbot, port, host: config.host, log, enableStaticFiles: false });
    const receiveGithub = githubDeliveries(queues, log, { appId: Number(config.appId), mapRepo: config.mapRepo, visibility: visibilityStore });
    await server.load((app, { addHandler: add }) => {
      const addHandler = (h: Handler) => add(guard(h, log));
      probot = app;
      addHandler(healthHandler(redis));
      addHandler(gitlabWebhooks(queues, log, { ...gitlabWebhookOptions(config, map), visibility: visibilityStore }));
      addHandler(jenkinsNotifications(queues, map, config.env, log));
      addHandler(rerunsApi(queues, map, log, config.adminToken, { checks, views }));
      stream = new EventStreams(historyAccess.readers, () => createRedis(redisUrl, "worker"), eventSource, log, historyAccess.tokens, {
        perAddress: config.streamsPerAddress, idleMs: config.streamIdleMs, trustProxy: config.trustProxy,
      });
      addHandler(stream.handler());
      addHandler(historyApi(historyAccess, map, { perAddress: config.exportsPerAddress, trustProxy: config.trustProxy, partRecords: config.exportPartRecords }));
      addHandler(sinksApi(queues.sinks, sinks, stats, log, config.adminToken));
      addHandler(watchApi(redis, map, config.adminToken, config.watchIntervalMs));
      addHandler(metricsHandler(queues, redis));
      addHandler(adminViews({ queues, map, log, adminToken: config.adminToken, state: { checks, views } }));
      addHandler(dashboard({ access: historyAccess, map, queues, log }));
      githubWebhooks(receiveGithub)(app, { addHandler, cwd: process.cwd() });
    });
    const webhooks = probot!.webhooks;
    gateIntake(await server.start(), queueRedis, log, githubIntake({ verify: (payload, signature) => webhooks.verify(payload, signature), receive: receiveGithub, log }));
  }

  let workers: Workers | undefined;
  let watcher: Watcher | undefined;
  let gerritStreams: GerritStreams | undefined;
  let workerRedis: ReturnType<typeof createRedis> | undefined;
  const pacer = new WritePacer(config.writeIntervalMs);
  if (config.role !== "web") {
    workerRedis = createRedis(redisUrl, "worker");
    workerRedis.on("error", (err) => log.warn({ err: err.message }, "redis worker connection error"));
    const limits = new ForgeLimits(workerRedis);
    const apps = new GithubApps(probot ?? new RelayProbot(), redis, pacer, {
      limits, writesPerMinute: config.githubWritesPerMinute, pointsPerMinute: config.githubPointsPerMinute,
    }, config.watchGithubInstallation);
    const github = { apps, appId: Number(config.appId), webUrl: githubWebUrl(config), apiUrl: config.githubApiUrl };
    const gitlab = { url: config.gitlabUrl, token: config.gitlabToken, env: config.env, budget: new PipelineBudget(redis, config.gitlabPipelinesPerMinute), limits };
    // Each system by the roles it plays; the flow asks for a role at a place (docs/architecture.md).
    systems = new Systems({
      // GitHub reports runs by webhook (workflow_run, check_suite) and signs every delivery itself.
      // Its watched upstreams (`watch:`, no app there) are read together: one GraphQL query (one point) per OPENCI_WATCH_GITHUB_BATCH.
      github: {
        ...forgeDriver((at) => new GithubForge({ ...github, installationId: at.installationId }), { pollsRuns: false, signsCheckHooks: true }),
        batchSource: () => new GithubWatchSource({ apps, redis, batchSize: config.watchGithubBatch }),
      },
      // A GitLab downstream's hooks may not reach the relay (another host, no hook): its runs are polled too.
      gitlab: forgeDriver((at) => new GitlabForge({ ...gitlab, host: at.host, tokenEnv: at.tokenEnv }), { pollsRuns: true, signsCheckHooks: false }),
      // Any git host: only a source of tags, read anonymously; no webhook comes from it, so its upstreams are watched.
      git: { source: () => new GitHostSource(), pollsRuns: false, signsCheckHooks: false, watched: true },
      // Gerrit: a source of tags through its REST API, watched (polled), and streamed where the map gives SSH.
      gerrit: gerritDriver(map, config.env),
      // Jenkins: only a runner; builds' results by the Notification plugin where set up, and polled.
      jenkins: jenkinsDriver(map, config.env),
    }, map);
    // Where releases' artifacts are published, one registry per package URL type (docs/architecture.md, "Artifacts").
    const artifacts = new ArtifactRegistries({
      oci: new OciArtifacts(), pypi: new PypiArtifacts(), golang: new GoProxyArtifacts(), maven: new MavenArtifacts(), npm: new NpmArtifacts(),
      github: new GithubReleaseArtifacts((repo) => apps.readClientForRepo(repo)),
    });
    const workerDeps = {
      artifacts,
      // A trigger's outcome is saved on the worker connection, which waits out a Redis outage
      // instead of failing: a pipeline the forge started is recorded, never started twice.
      map, live, mapRepo: config.mapRepo, queues, checks, records: new TriggerRecords(workerRedis), views,
      gates: new Gates(redis), systems, redis, log, visibility, visibilityStore, surface, declaredQuota: new DeclaredQuota(redis, config.maxDeclaredTriggersPerOwnerPerDay), pollIntervalMs: config.pollIntervalMs, watchIntervalMs: config.watchIntervalMs, seen: new SeenTags(redis), githubApps: apps,
      history: new Recorder({ store: history, sinks, queue: queues.sinks, sinkRetryMs: config.sinkRetryMs, log, privacy: visibility }),
      // Broker and chat subscribers keep a connection each between deliveries (closed with the workers).
      delivery: { history, sinks, stats, eventSource, readers: historyAccess.readers, transports: new TransportPool(config.env, log), chat: { redis, publicUrl: config.publicUrl } },
      jobLockMs: config.jobLockMs,
      limits: { perEvent: config.maxTriggersPerEvent, perChain: config.maxTriggersPerChain },
    };
    workers = startWorkers(workerRedis, workerDeps);
    // Upstreams no webhook comes from (a git host, a `watch:` entry) are polled, each at its interval.
    watcher = startWatcher(workerDeps, watchTickMs(config.minWatchIntervalMs));
    // Gerrit servers the map gives SSH for: their stream-events announce tags at once (one process per server).
    gerritStreams = startGerritStreams(workerDeps, config.env, log);
  }

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
  const url = server ? `http://${server.host}:${server.port}` : probes?.url;
  log.info({ role: config.role, projects: map().size, url }, "relay started");
  return {
    url,
    /** Stops accepting, lets active jobs finish (not waiting on a Redis that is gone), closes connections. */
    stop: async () => {
      stopFollowing?.();
      await watcher?.stop();
      await gerritStreams?.stop();
      stream?.close();
      await server?.stop();
      await probes?.close();
      const redisUp = redis.status === "ready";
      // Active jobs get the grace period to finish; past it they are handed back (stalled-job
      // recovery gives them to another worker) and the workers' timers stop, so nothing of this
      // process keeps running, or holds a job's lock, after stop() returns.
      await within(workers?.close(!redisUp, STOP_GRACE_MS), (redisUp ? STOP_GRACE_MS : 0) + 1_000);
      pacer.close();
      await within(queues.close(), redisUp ? STOP_GRACE_MS : 500);
      await within(Promise.all([redis.quit(), queueRedis.quit(), workerRedis?.quit(), subscriber?.quit()]), 500);
      redis.disconnect();
      queueRedis.disconnect();
      workerRedis?.disconnect();
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

function githubWebUrl(config: Config): string {
  return config.gheHost ? `${config.gheProtocol}://${config.gheHost}` : "https://github.com";
}

/** GITLAB_WEBHOOK_SECRET for every project, and each map project's own secret (`webhook_secret_env`). */
function gitlabWebhookOptions(config: Config, map: () => DependencyMap): GitlabWebhookOptions {
  return {
    secret: config.gitlabWebhookSecret,
    defaultHost: new URL(config.gitlabUrl).host,
    mapRepo: config.mapRepo,
    hasProjectSecrets: () => map().projects().some((p) => p.location.forge === "gitlab" && p.location.webhookSecretEnv !== undefined),
    projectSecret: (path, host) => {
      const location = map().projectsAt({ forge: "gitlab", project: path, host })[0]?.location;
      const name = location?.forge === "gitlab" ? location.webhookSecretEnv : undefined;
      return name ? config.env[name] || undefined : undefined;
    },
  };
}
