import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap } from "yaml";
import { parseEnv } from "../src/config/env.js";
import { createLogger } from "../src/log.js";
import { parseMap } from "../src/map/load.js";
import { startEmbeddedRedis } from "../src/redis/embedded.js";
import { startRelay } from "../src/relay.js";
import { appPrivateKey } from "../test/helpers/keys.js";
import { DEMO_GITLAB_TOKEN, DEMO_SERVER_ENV, DEMO_SERVERS, startSandbox, startServers, type DemoServers } from "./forge-sandbox.js";
import { DEMO_GERRIT_BASELINES, DEMO_TAGS, DEMO_TIMEOUT, DEMO_WATCHED, playDemo } from "./script.js";

const MAP_FILE = new URL("../fixtures/maps/cross-community.yml", import.meta.url);
const APP_ID = 4242;
const WEBHOOK_SECRET = "demo-webhook-secret";
export const DEMO_ADMIN_TOKEN = "demo-admin-token-0123456789";

export interface Demo {
  url: string;
  /** resolves when the scripted sequence has played */
  played: Promise<void>;
  /** the sandbox's Gerrit servers and Jenkins (what the relay asked of them) */
  servers: DemoServers;
  stop(): Promise<void>;
}

/**
 * The cross-community map as the demo plays it:
 * - one edge's timeout shortened, so the demo shows a time-out within a minute;
 * - one upstream watched (`watch: {}`): the sandbox's app is not installed there, so no webhook
 *   comes from it and the relay reads its tags;
 * - Nova on OpenDev's Gerrit and odlparent on OpenDaylight's (their canonical homes; the fixture
 *   names their GitHub mirrors), and Functest run as a job on Anuket's Jenkins, depending on both.
 *   Gerrit and Jenkins have no global address setting (as GHE_HOST or GITLAB_URL): the map entry's
 *   `url` is where the relay goes, so the demo's map gives the sandbox's servers' loopback
 *   addresses in place of the real ones (written beside them, in a comment).
 */
export function demoMapText(pace: number, servers: { opendev: string; odl: string; jenkins: string }): string {
  const doc = parseDocument(readFileSync(MAP_FILE, "utf8"));
  doc.commentBefore = `${doc.commentBefore ?? ""}
 The demo's copy (demo/main.ts): Nova and odlparent on their Gerrit servers, Functest on Anuket's
 Jenkins, each played offline by the demo's sandbox at the loopback address given for it.`;
  const seconds = Math.max(3, Math.round((DEMO_TIMEOUT.steps * pace) / 1000));
  edge(doc, DEMO_TIMEOUT.downstream, DEMO_TIMEOUT.upstream).set("timeout", `${seconds}s`);
  const etcd = project(doc, DEMO_WATCHED.project);
  if (etcd.get("github") !== DEMO_WATCHED.repo) throw new Error(`the demo map has no project at ${DEMO_WATCHED.repo} to watch`);
  etcd.set("watch", doc.createNode({}, { flow: true }));

  // Nova: an upstream on OpenDev's Gerrit, read anonymously. Gerrit runs no pipelines (Nova's CI is
  // OpenDev's Zuul, which the relay does not start), so here it is only an upstream.
  const nova = project(doc, "nova");
  relocate(doc, nova, { url: servers.opendev, project: DEMO_SERVERS.opendev.project }, DEMO_SERVERS.opendev.real);
  nova.delete("trigger");
  nova.delete("depends_on");
  // odlparent: on OpenDaylight's Gerrit (context path /gerrit), read as an account with its HTTP password.
  relocate(doc, project(doc, "odl-odlparent"), {
    url: servers.odl, project: DEMO_SERVERS.odl.project, user_env: "ODL_GERRIT_USER", password_env: "ODL_GERRIT_PASSWORD",
  }, DEMO_SERVERS.odl.real);
  // Functest: a job on Anuket's Jenkins, started with an API token, reporting by the Notification plugin too.
  const functest = project(doc, "functest");
  functest.set("ci", "jenkins");
  const jenkins = doc.createNode({
    url: servers.jenkins, job: DEMO_SERVERS.anuket.job, user_env: "ANUKET_JENKINS_USER", token_env: "ANUKET_JENKINS_TOKEN", notify_secret_env: "ANUKET_JENKINS_NOTIFY_SECRET",
  }, { flow: true });
  jenkins.comment = ` the sandbox's Jenkins, in place of ${DEMO_SERVERS.anuket.real} (the job's name is illustrative)`;
  functest.set("trigger", doc.createNode({ jenkins }));
  // Gerrit has no releases, only tags: Functest runs for Nova's tags, and for odlparent's.
  edge(doc, "functest", "nova").delete("on");
  const edges = functest.get("depends_on");
  if (!isSeq(edges)) throw new Error("the demo map's functest has no depends_on");
  edges.add(doc.createNode({ project: "odl-odlparent", tags: "v*" }, { flow: true }));
  return doc.toString({ lineWidth: 0 });
}

function project(doc: Document, id: string): YAMLMap {
  const projects = doc.get("projects");
  const found = isSeq(projects) ? projects.items.find((p) => isMap(p) && p.get("id") === id) : undefined;
  if (!isMap(found)) throw new Error(`the demo map has no project ${id}`);
  return found;
}

function edge(doc: Document, downstream: string, upstream: string): YAMLMap {
  const edges = project(doc, downstream).get("depends_on");
  const found = isSeq(edges) ? edges.items.find((e) => isMap(e) && e.get("project") === upstream) : undefined;
  if (!isMap(found)) throw new Error(`the demo map has no edge ${upstream} → ${downstream}`);
  return found;
}

/** Moves a project from its GitHub mirror to its Gerrit server (where `github:` was), the real address in a comment. */
function relocate(doc: Document, p: YAMLMap, gerrit: Record<string, string>, real: string): void {
  const at = p.items.findIndex((pair) => isScalar(pair.key) && pair.key.value === "github");
  if (at < 0) throw new Error("the demo map's project has no github: to move");
  const node = doc.createNode(gerrit, { flow: true });
  node.comment = ` the sandbox's Gerrit, in place of ${real}`;
  p.items.splice(at, 1, doc.createPair("gerrit", node));
}

/**
 * Everything offline: a private redis-server, the local forge sandbox (fake GitHub, GitLab, Gerrit
 * and Jenkins over HTTP), the relay on the real cross-community map, and the scripted releases.
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
  const servers = await startServers(DEMO_GERRIT_BASELINES);
  const mapText = demoMapText(pace, servers.urls);
  const map = parseMap(mapText, "fixtures/maps/cross-community.yml");
  const privateKey = appPrivateKey();
  const tags = DEMO_TAGS.flatMap((t) => {
    const p = map.project(t.project);
    return p?.location.forge === "github" ? [{ repo: p.location.repo, tag: t.tag }] : [];
  });
  const redis = await startEmbeddedRedis({ dir: mkdtempSync(join(tmpdir(), "openci-demo-")), appendOnly: false });
  const sandbox = await startSandbox(map, privateKey, APP_ID, tags, servers);
  const config = parseEnv({
    APP_ID: String(APP_ID), PRIVATE_KEY: privateKey, WEBHOOK_SECRET,
    GHE_HOST: sandbox.githubFront.host, GHE_PROTOCOL: "http",
    GITLAB_URL: sandbox.gitlabFront.url, GITLAB_TOKEN: DEMO_GITLAB_TOKEN,
    PORT: String(o.port ?? 3000), HOST: "127.0.0.1", REDIS_URL: redis.url,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "error",
    OPENCI_WRITE_INTERVAL_MS: "100", OPENCI_POLL_INTERVAL_MS: "1000", OPENCI_ADMIN_TOKEN: DEMO_ADMIN_TOKEN,
    // watched upstreams (etcd, the Gerrit projects) are read every 3 steps (5 minutes in a real deployment)
    OPENCI_WATCH_MIN_INTERVAL_MS: String(Math.max(100, pace)), OPENCI_WATCH_INTERVAL_MS: String(Math.max(100, pace * 3)),
    // the accounts the demo's map names on the sandbox's Gerrit and Jenkins
    ...DEMO_SERVER_ENV,
  });
  const relay = await startRelay({ config, map, localMap: [{ file: "fixtures/maps/cross-community.yml", text: mapText }], redisUrl: redis.url, log: createLogger(config.logLevel) });
  const url = relay.url!.replace("127.0.0.1", "localhost");
  say(`OpenCI Relay demo: ${map.size} projects of ${map.foundations().length} foundations, forges simulated locally (offline).`);
  say(`\n  Dashboard:   ${url}/\n  Now / next:  ${url}/now\n  Queues:      ${url}/admin/queues  (user: any, password: ${DEMO_ADMIN_TOKEN})\n  Events:      ${url}/api/v1/events\n`);
  const abort = new AbortController();
  const played = playDemo({
    relayUrl: relay.url!, map, github: sandbox.github, gitlab: sandbox.gitlab, webhookSecret: WEBHOOK_SECRET, adminToken: DEMO_ADMIN_TOKEN,
    installationOf: sandbox.installationOf, log: say, pace, githubWeb: sandbox.githubFront.url, played: sandbox.played, servers,
  }, abort.signal).then(() => void say(playedLine(url, o.exitWhenPlayed ?? false)));
  return {
    url: relay.url!,
    played,
    servers,
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
