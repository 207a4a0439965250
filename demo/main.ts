import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "../src/config/env.js";
import { createLogger } from "../src/log.js";
import { parseMap } from "../src/map/load.js";
import { startEmbeddedRedis } from "../src/redis/embedded.js";
import { startRelay } from "../src/relay.js";
import { appPrivateKey } from "../test/helpers/keys.js";
import { DEMO_GITLAB_TOKEN, startSandbox } from "./forge-sandbox.js";
import { DEMO_TAGS, DEMO_TIMEOUT, DEMO_WATCHED, playDemo } from "./script.js";

const MAP_FILE = new URL("../fixtures/maps/cross-community.yml", import.meta.url);
const APP_ID = 4242;
const WEBHOOK_SECRET = "demo-webhook-secret";
export const DEMO_ADMIN_TOKEN = "demo-admin-token-0123456789";

export interface Demo {
  url: string;
  /** resolves when the scripted sequence has played */
  played: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The cross-community map, with one edge's timeout shortened so the demo shows a time-out within a
 * minute, and one upstream watched (`watch: {}`): the sandbox's app is not installed there, so no
 * webhook comes from it and the relay reads its tags.
 */
function demoMapText(pace: number): string {
  const text = readFileSync(MAP_FILE, "utf8");
  const edge = `- { project: ${DEMO_TIMEOUT.upstream}, tags: "*", cascade: true }`;
  const seconds = Math.max(3, Math.round((DEMO_TIMEOUT.steps * pace) / 1000));
  const watched = `github: ${DEMO_WATCHED.repo}\n`;
  if (!text.includes(watched)) throw new Error(`the demo map has no project at ${DEMO_WATCHED.repo} to watch`);
  return text
    .replace(edge, `- { project: ${DEMO_TIMEOUT.upstream}, tags: "*", cascade: true, timeout: ${seconds}s }`)
    .replace(watched, `${watched}    watch: {}\n`);
}

/**
 * Everything offline: a private redis-server, the local forge sandbox (fake GitHub and GitLab
 * over HTTP), the relay on the real cross-community map, and the scripted releases.
 */
export async function startDemo(o: {
  port?: number; pace?: number; quiet?: boolean;
  /** the demo stops once the script has played (DEMO_EXIT=1), so it does not say the relay keeps running */
  exitWhenPlayed?: boolean;
  /** where its lines go (default stdout; nowhere when quiet) */
  say?: (line: string) => void;
} = {}): Promise<Demo> {
  const say = o.say ?? (o.quiet ? () => {} : (line: string) => process.stdout.write(`${line}\n`));
  const pace = o.pace ?? 1000;
  const mapText = demoMapText(pace);
  const map = parseMap(mapText, "fixtures/maps/cross-community.yml");
  const privateKey = appPrivateKey();
  const tags = DEMO_TAGS.flatMap((t) => {
    const p = map.project(t.project);
    return p?.location.forge === "github" ? [{ repo: p.location.repo, tag: t.tag }] : [];
  });
  const redis = await startEmbeddedRedis({ dir: mkdtempSync(join(tmpdir(), "openci-demo-")), appendOnly: false });
  const sandbox = await startSandbox(map, privateKey, APP_ID, tags);
  const config = parseEnv({
    APP_ID: String(APP_ID), PRIVATE_KEY: privateKey, WEBHOOK_SECRET,
    GHE_HOST: sandbox.githubFront.host, GHE_PROTOCOL: "http",
    GITLAB_URL: sandbox.gitlabFront.url, GITLAB_TOKEN: DEMO_GITLAB_TOKEN,
    PORT: String(o.port ?? 3000), HOST: "127.0.0.1", REDIS_URL: redis.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "error",
    OPENCI_WRITE_INTERVAL_MS: "100", OPENCI_POLL_INTERVAL_MS: "1000", OPENCI_ADMIN_TOKEN: DEMO_ADMIN_TOKEN,
    // the watched upstream is read every 3 steps (5 minutes in a real deployment)
    OPENCI_WATCH_MIN_INTERVAL_MS: String(Math.max(100, pace)), OPENCI_WATCH_INTERVAL_MS: String(Math.max(100, pace * 3)),
  });
  const relay = await startRelay({ config, map, localMap: [{ file: "fixtures/maps/cross-community.yml", text: mapText }], redisUrl: redis.url, log: createLogger(config.logLevel) });
  const url = relay.url!.replace("127.0.0.1", "localhost");
  say(`OpenCI Relay demo: ${map.size} projects of ${map.foundations().length} foundations, forges simulated locally (offline).`);
  say(`\n  Dashboard:   ${url}/\n  Now / next:  ${url}/now\n  Queues:      ${url}/admin/queues  (user: any, password: ${DEMO_ADMIN_TOKEN})\n  Events:      ${url}/api/v1/events\n`);
  const abort = new AbortController();
  const played = playDemo({
    relayUrl: relay.url!, map, github: sandbox.github, gitlab: sandbox.gitlab, webhookSecret: WEBHOOK_SECRET, adminToken: DEMO_ADMIN_TOKEN,
    installationOf: sandbox.installationOf, log: say, pace, githubWeb: sandbox.githubFront.url, played: sandbox.played,
  }, abort.signal).then(() => void say(playedLine(url, o.exitWhenPlayed ?? false)));
  return {
    url: relay.url!,
    played,
    stop: async () => {
      abort.abort();
      await relay.stop();
      await sandbox.stop();
      await redis.stop();
    },
  };
}

/** The demo's last line: what happens now that the script has played. */
export function playedLine(url: string, exitWhenPlayed: boolean): string {
  return exitWhenPlayed
    ? "\nThe scripted releases have played; stopping the relay, the sandbox and Redis (DEMO_EXIT=1)."
    : `\nThe scripted releases have played; the relay keeps running at ${url}/ (Ctrl-C stops it).`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  const exitWhenPlayed = process.env.DEMO_EXIT === "1";
  const demo = await startDemo({ port, exitWhenPlayed }).catch(async (error: Error) => {
    if (!/EADDRINUSE/.test(String(error.message)) || process.env.PORT !== undefined) throw error;
    process.stdout.write(`port ${port} is taken: using a free one (set PORT to choose)\n`);
    return startDemo({ port: 0, exitWhenPlayed });
  });
  const stop = async () => {
    await demo.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  if (exitWhenPlayed) await demo.played.then(stop);
}
