import { Server, type Probot } from "probot";
import { createRedis } from "../redis/connection.js";
import { freePort } from "../util/free-port.js";
import type { DependencyMap } from "../map/graph.js";
import type { Config } from "../config/env.js";
import { githubDeliveries, githubWebhooks } from "../web/github-webhooks.js";
import { githubIntake } from "../web/github-intake.js";
import { gitlabWebhooks, type GitlabWebhookOptions } from "../web/gitlab-webhooks.js";
import { jenkinsNotifications } from "../web/jenkins-notifications.js";
import { rerunsApi } from "../web/reruns-api.js";
import { healthHandler } from "../web/health.js";
import { guard, type Handler } from "../web/http.js";
import { historyApi } from "../web/history-api.js";
import { EventStreams } from "../web/event-stream.js";
import { sinksApi } from "../web/sinks-api.js";
import { watchApi } from "../web/watch-api.js";
import { dashboard } from "../web/dashboard/routes.js";
import { adminViews } from "../web/admin.js";
import { metricsHandler } from "../web/metrics-route.js";
import { gateIntake } from "../web/intake-gate.js";
import type { RoleContext } from "./context.js";

export interface WebRole {
  server: Server;
  /** the Probot app the server loaded: a worker role in the same process (OPENCI_ROLE=all) builds its clients from it */
  probot: Probot;
  stop(): Promise<void>;
}

/**
 * The web role: webhooks (GitHub through the lean intake in front of Probot's listener, GitLab,
 * Jenkins), the re-runs, history, subscribers' and watch APIs, the event stream, metrics, the
 * admin views and the dashboard, on one HTTP server. It receives and enqueues; the workers do the rest.
 */
export async function startWebRole(ctx: RoleContext): Promise<WebRole> {
  const { config, log, redis, queueRedis, queues, map, visibilityStore, checks, views, historyAccess, sinks, stats, eventSource, redisUrl, RelayProbot } = ctx;
  let stream: EventStreams | undefined;
  let probot: Probot | undefined;
  // Probot's Server treats port 0 as "use 3000"; pick the free port ourselves.
  const port = config.port === 0 ? await freePort() : config.port;
  const server = new Server({ Probot: RelayProbot, port, host: config.host, log, enableStaticFiles: false });
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
  return {
    server,
    probot: probot!,
    stop: async () => {
      stream?.close();
      await server.stop();
    },
  };
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
