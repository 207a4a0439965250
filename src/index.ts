import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError, parseEnv, parseSetupEnv } from "./config/env.js";
import { createLogger, logFormatFor } from "./log.js";
import { MapError, formatProblem, loadMap, parseMapFiles } from "./map/load.js";
import { describeMapRepo } from "./map/map-repo.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "./redis/embedded.js";
import { redactUrl } from "./redis/connection.js";
import { startRelay } from "./relay.js";
import { mapOptionsOf } from "./map/map-options.js";
import { ManifestError } from "./setup/app-manifest.js";
import { GITHUB_WEBHOOK_PATH, needsSetup, startSetupServer } from "./setup/setup-server.js";
import type { WebhookProxy } from "./web/webhook-proxy.js";

/** `npm start`: read .env and the environment, validate config and map, start Redis if needed, run the roles. */
async function main(): Promise<void> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  if (needsSetup(process.env)) return setup();
  const config = parseEnv(process.env);
  const log = createLogger(config.logLevel, undefined, logFormatFor(config.logFormat, process.stdout.isTTY));
  const mapOptions = mapOptionsOf(config);
  const { map, warnings, files, texts } = config.mapPath ? loadMap(config.mapPath, mapOptions) : parseMapFiles([], "(no local map)", mapOptions);
  for (const w of warnings) log.warn({ map: w.file }, `dependency map: ${formatProblem(w)}`);
  log.info({ map: config.mapPath ?? null, repo: config.mapRepo ? describeMapRepo(config.mapRepo) : null, files: files.length, projects: map.size }, "dependency map loaded");

  let embedded: EmbeddedRedis | undefined;
  if (!config.redisUrl) {
    embedded = await startEmbeddedRedis({ dir: ".data/redis" });
    log.info({ url: embedded.url, dir: embedded.dir }, "REDIS_URL is not set: started a private redis-server");
  }
  const redisUrl = config.redisUrl ?? embedded!.url;
  log.info({ redis: redactUrl(redisUrl) }, "using redis");

  let relay;
  let proxy: WebhookProxy | undefined;
  try {
    relay = await startRelay({ config, map, localMap: texts, redisUrl, log });
    if (config.webhookProxyUrl && config.role !== "worker" && relay.url) {
      // smee-client (and its undici) only in a process that follows a channel
      const { startWebhookProxy } = await import("./web/webhook-proxy.js").catch((error: unknown) => {
        throw new Error(`the webhook proxy cannot start: its client library (smee-client) failed to import: ${(error as Error)?.message ?? String(error)}; reinstall the relay's dependencies (npm ci)`, { cause: error });
      });
      proxy = await startWebhookProxy({ source: config.webhookProxyUrl, target: `${loopback(relay.url)}${GITHUB_WEBHOOK_PATH}`, log });
    }
  } catch (error) {
    await relay?.stop();
    await embedded?.stop();
    throw error;
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await proxy?.stop().catch(() => {});
    await relay.stop().catch((err) => log.error({ err }, "error while stopping"));
    await embedded?.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** No GitHub App yet (no APP_ID, key or secret anywhere): serve the page that registers one. */
async function setup(): Promise<void> {
  const env = parseSetupEnv(process.env);
  const log = createLogger(env.LOG_LEVEL, undefined, logFormatFor(env.LOG_FORMAT, process.stdout.isTTY));
  // A working folder's own app.yml (Probot's convention), else the one beside package.json.
  const appYml = existsSync("app.yml") ? "app.yml" : fileURLToPath(new URL("../app.yml", import.meta.url));
  const server = await startSetupServer({ env, envFile: ".env", appYml, log });
  log.warn({ url: `${server.url}/setup` }, `APP_ID is not set: open ${server.url}/setup to register the GitHub App, then restart`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** The relay's own address as this process reaches it (a wildcard bind answers on loopback). */
function loopback(url: string): string {
  const u = new URL(url);
  if (u.hostname === "" || u.hostname === "0.0.0.0" || u.hostname === "[::]" || u.hostname === "::") u.hostname = "127.0.0.1";
  return u.origin;
}

main().catch((error: unknown) => {
  // Start-up errors are for a person: one clear message, no stack trace.
  const e = error as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code === "EADDRINUSE") {
    console.error(`port ${e.port ?? process.env.PORT ?? 3000}${e.address && e.address !== "::" && e.address !== "0.0.0.0" ? ` on ${e.address}` : ""} is already in use (another relay or program listens there): set PORT to a free port, e.g. PORT=3001 npm start, or stop the other program.`);
    process.exit(1);
  }
  const message = e?.message ?? "";
  const known = error instanceof ConfigError || error instanceof MapError || error instanceof ManifestError || /^(redis-server|Redis at|the worker's health)/.test(message);
  console.error(known ? message : error);
  process.exit(1);
});
