import { existsSync } from "node:fs";
import { ConfigError, parseEnv } from "./config/env.js";
import { createLogger } from "./log.js";
import { MapError, formatProblem, loadMap, parseMapFiles } from "./map/load.js";
import { describeMapRepo } from "./map/map-repo.js";
import { startEmbeddedRedis, type EmbeddedRedis } from "./redis/embedded.js";
import { redactUrl } from "./redis/connection.js";
import { startRelay } from "./relay.js";
import { mapOptionsOf } from "./map/map-options.js";

/** `npm start`: read .env and the environment, validate config and map, start Redis if needed, run the roles. */
async function main(): Promise<void> {
  if (existsSync(".env")) process.loadEnvFile(".env");
  const config = parseEnv(process.env);
  const log = createLogger(config.logLevel);
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
  try {
    relay = await startRelay({ config, map, localMap: texts, redisUrl, log });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await relay.stop().catch((err) => log.error({ err }, "error while stopping"));
    await embedded?.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  // Start-up errors are for a person: one clear message, no stack trace.
  const message = (error as Error)?.message ?? "";
  const known = error instanceof ConfigError || error instanceof MapError || /^(redis-server|Redis at|the worker's health)/.test(message);
  console.error(known ? message : error);
  process.exit(1);
});
