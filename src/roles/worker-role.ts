import type { Probot } from "probot";
import type { Config } from "../config/env.js";
import { GithubApps } from "../forge/github-apps.js";
import { ForgeLimits, PipelineBudget } from "../forge/minute-budget.js";
import { forgeDriver, Systems } from "../forge/registry.js";
import { WritePacer } from "../forge/write-pacer.js";
import { GithubForge } from "../forge/github.js";
import { GitlabForge } from "../forge/gitlab.js";
import { GitHostSource } from "../forge/git-host.js";
import { gerritDriver } from "../forge/gerrit-driver.js";
import { jenkinsDriver } from "../forge/jenkins-driver.js";
import { GithubWatchSource } from "../forge/github-watch.js";
import { ArtifactRegistries } from "../artifacts/artifacts.js";
import { OciArtifacts } from "../artifacts/oci-artifacts.js";
import { PypiArtifacts } from "../artifacts/pypi.js";
import { GoProxyArtifacts } from "../artifacts/golang.js";
import { MavenArtifacts } from "../artifacts/maven.js";
import { NpmArtifacts } from "../artifacts/npm.js";
import { GithubReleaseArtifacts } from "../artifacts/github-release.js";
import { createRedis } from "../redis/connection.js";
import { Gates } from "../report/gates.js";
import { TriggerRecords } from "../report/trigger-records.js";
import { SeenTags } from "../report/seen-tags.js";
import { Recorder } from "../history/recorder.js";
import { TransportPool } from "../sinks/transport-pool.js";
import { DeclaredQuota } from "../trust/declared-quota.js";
import { startGerritStreams } from "../workers/gerrit-streams.js";
import { startWorkers } from "../workers/start.js";
import { startWatcher, watchTickMs } from "../workers/watch.js";
import type { RoleContext } from "./context.js";

export interface WorkerRole {
  /** Stops the watcher and Gerrit's streams. */
  stopPolling(): Promise<void>;
  /** Lets active jobs finish within `graceMs` (not waiting on a Redis that is gone), then hands them back. */
  closeWorkers(redisDown: boolean, graceMs: number): Promise<void>;
  /** the write pacer's timers */
  stopPacing(): void;
  /** the worker connection, after the queues are closed */
  quit(): Promise<unknown>;
  disconnect(): void;
}

/**
 * The worker role: every system registered by the roles it plays (docs/architecture.md), the
 * artifact registries, the BullMQ workers (fan-out, trigger, results, report, sinks…), the watcher
 * of upstreams no webhook comes from, and Gerrit's event streams. `probot` is the web role's app
 * when both run in this process.
 */
export function startWorkerRole(ctx: RoleContext, probot: Probot | undefined): WorkerRole {
  const { config, log, redis, redisUrl, queues, map, live, checks, views, history, historyAccess, sinks, stats, eventSource, visibility, visibilityStore, surface, RelayProbot } = ctx;
  const pacer = new WritePacer(config.writeIntervalMs);
  const workerRedis = createRedis(redisUrl, "worker");
  workerRedis.on("error", (err) => log.warn({ err: err.message }, "redis worker connection error"));
  const limits = new ForgeLimits(workerRedis);
  const apps = new GithubApps(probot ?? new RelayProbot(), redis, pacer, {
    limits, writesPerMinute: config.githubWritesPerMinute, pointsPerMinute: config.githubPointsPerMinute,
  }, config.watchGithubInstallation);
  const github = { apps, appId: Number(config.appId), webUrl: githubWebUrl(config), apiUrl: config.githubApiUrl };
  const gitlab = { url: config.gitlabUrl, token: config.gitlabToken, env: config.env, budget: new PipelineBudget(redis, config.gitlabPipelinesPerMinute), limits };
  // Each system by the roles it plays; the flow asks for a role at a place (docs/architecture.md).
  const systems = (ctx.systems.current = new Systems({
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
  }, map));
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
    reportSettleMs: config.reportSettleMs,
    limits: { perEvent: config.maxTriggersPerEvent, perChain: config.maxTriggersPerChain },
  };
  const workers = startWorkers(workerRedis, workerDeps);
  // Upstreams no webhook comes from (a git host, a `watch:` entry) are polled, each at its interval.
  const watcher = startWatcher(workerDeps, watchTickMs(config.minWatchIntervalMs));
  // Gerrit servers the map gives SSH for: their stream-events announce tags at once (one process per server).
  const gerritStreams = startGerritStreams(workerDeps, config.env, log);
  return {
    stopPolling: async () => {
      await watcher.stop();
      await gerritStreams.stop();
    },
    closeWorkers: (redisDown, graceMs) => workers.close(redisDown, graceMs),
    stopPacing: () => pacer.close(),
    quit: () => workerRedis.quit(),
    disconnect: () => workerRedis.disconnect(),
  };
}

function githubWebUrl(config: Config): string {
  return config.gheHost ? `${config.gheProtocol}://${config.gheHost}` : "https://github.com";
}
