import { describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { ROOT, TSX } from "../helpers/spawn-relay.js";

/**
 * The client libraries of the broker and chat transports and of Gerrit's event stream cost about
 * 30 MB of resident memory together, and are loaded only by a process that uses them: parsing a map
 * or OPENCI_SINKS with such subscribers, starting the relay's modules, or asking the pool for a
 * transport loads none of them; the first delivery of a kind loads that kind's, and only it.
 *
 * How a library is seen to be loaded: each case runs in a fresh `node --import tsx` process that
 * registers a module resolve hook (node:module register) before importing anything of the relay's.
 * Every ESM import the process resolves from then on (the relay's TypeScript, and the packages it
 * imports: an `import ... from "mqtt"` is resolved there) is written down with the URL it resolved to;
 * CommonJS modules required inside packages are also read from the CommonJS cache. A library is
 * loaded when a module of its package folder was. Each group has a control (importing the transport
 * module itself) showing that the check sees a library that is loaded.
 *
 * The web role's own: Bull Board and express (about 4 MB of heap) are imported by the first
 * admitted request for the board, smee-client only where WEBHOOK_PROXY_URL is set, @gitbeaker/rest
 * by the first GitLab call.
 */

const LIBRARIES = [
  "mqtt", "@nats-io/transport-node", "@nats-io/jetstream", "rabbitmq-client", "irc-framework", "ssh2",
  // the web role's: the admin board, the webhook proxy's client, GitLab's client
  "@bull-board", "express", "smee-client", "@gitbeaker",
];

const HOOK = `
import { appendFileSync } from "node:fs";
let log;
let refuse = [];
export function initialize(data) { ({ log, refuse } = data); }
export async function resolve(specifier, context, next) {
  if (refuse.includes(specifier)) {
    const missing = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
    missing.code = "ERR_MODULE_NOT_FOUND";
    throw missing;
  }
  const resolved = await next(specifier, context);
  appendFileSync(log, resolved.url + "\\n");
  return resolved;
}`;

/**
 * Runs `body` (an async function body; `src(path)` imports a module of the relay's, `loaded()` lists
 * the libraries loaded so far) in its own process, where the packages named in `refuse` are missing.
 */
async function inProcess(body: string, refuse: string[] = []): Promise<{ loaded: string[]; result: unknown }> {
  const dir = mkdtempSync(join(tmpdir(), "openci-lazy-"));
  const script = `
import { register, createRequire } from "node:module";
import { readFileSync } from "node:fs";
const log = ${JSON.stringify(join(dir, "resolved.txt"))};
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(HOOK)}), import.meta.url, { data: { log, refuse: ${JSON.stringify(refuse)} } });
const root = ${JSON.stringify(pathToFileURL(ROOT).href)};
const src = (path) => import(new URL(path, root).href);
const LIBRARIES = ${JSON.stringify(LIBRARIES)};
const loaded = () => {
  let urls = [];
  try { urls = readFileSync(log, "utf8").split("\\n"); } catch {}
  const files = [...urls, ...Object.keys(createRequire(import.meta.url).cache).map((f) => "file://" + f)];
  return LIBRARIES.filter((lib) => files.some((f) => f.includes("/node_modules/" + lib + "/")));
};
// the relay's own modules this process loaded, by path under src/ (e.g. "workers/trigger.ts")
const relayModules = () => {
  let urls = [];
  try { urls = readFileSync(log, "utf8").split("\\n"); } catch {}
  return [...new Set(urls.filter((u) => u.startsWith(root + "src/")).map((u) => u.slice(root.length + 4)))].sort();
};
const waitFor = async (check) => { for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50)); };
const result = await (async () => { ${body} })();
process.stdout.write(JSON.stringify({ loaded: loaded(), result: result ?? null }));
process.exit(0);
`;
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", TSX, "--input-type=module", "-e", script], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? "" }, timeout: 90_000, maxBuffer: 16 * 1024 * 1024,
    });
    return JSON.parse(stdout.slice(stdout.lastIndexOf('{"loaded"'))) as { loaded: string[]; result: unknown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SUBSCRIBERS = [
  { id: "firehose", url: "mqtts://mqtt.example:8883", topic: "openci/{project}/{event}" },
  { id: "bus", url: "nats://nats.example:4222", subject: "openci.{project}.{event}" },
  { id: "rabbit", url: "amqps://rabbit.example/%2F", exchange: "openci" },
  { id: "channel", url: "ircs://irc.oftc.net:6697/openinfra-events", nick: "openci" },
];

describe("client libraries are loaded only when used", () => {
  it("the check sees a library that is loaded: importing a transport module loads its client", async () => {
    const { loaded } = await inProcess(`await src("src/sinks/transports/mqtt.ts"); await src("src/sinks/transports/irc.ts");`);
    expect(loaded).toEqual(["mqtt", "irc-framework"]);
  }, 60_000);

  it("parsing subscribers of every kind (map and OPENCI_SINKS), their problems included, loads none", async () => {
    const { loaded, result } = await inProcess(`
      const { SinkSpec, parseEnvSinks } = await src("src/sinks/sink-spec.ts");
      const parsed = ${JSON.stringify(SUBSCRIBERS)}.map((s) => SinkSpec.safeParse(s).success);
      const env = parseEnvSinks(${JSON.stringify(JSON.stringify(SUBSCRIBERS))});
      const bad = SinkSpec.safeParse({ id: "x", url: "mqtt://broker.example/topic" });
      return { parsed, env: env.sinks.length, problems: env.problems, bad: bad.error?.issues.map((i) => i.message) };
    `);
    expect(result).toEqual({
      parsed: [true, true, true, true], env: 4, problems: [],
      bad: ["the url has a path (/topic): the topic goes in the topic option, not the url; e.g. mqtt://broker.example:1883 or mqtts://broker.example"],
    });
    expect(loaded).toEqual([]);
  }, 60_000);

  it("the relay's modules load none at start; the pool loads a kind's library with its first delivery, and only that one", async () => {
    const { loaded, result } = await inProcess(`
      await src("src/relay.ts");
      await src("src/roles/web-role.ts");
      await src("src/roles/worker-role.ts");
      await src("src/workers/gerrit-streams.ts");
      const { Sinks } = await src("src/sinks/sinks.ts");
      const { TransportPool } = await src("src/sinks/transport-pool.ts");
      const { pino } = await import("pino");
      const sinks = new Sinks(${JSON.stringify(SUBSCRIBERS)}, () => ({ subscribers: () => [] }), {});
      const pool = new TransportPool({}, pino({ level: "silent" }));
      pool.broker(sinks.get("firehose"));
      pool.broker(sinks.get("bus"));
      pool.chat(sinks.get("channel"));
      const atStart = loaded();
      await pool.load("mqtt");
      await pool.load("webhook");
      const afterMqtt = loaded();
      await pool.close();
      return { atStart, afterMqtt };
    `);
    expect(result).toEqual({ atStart: [], afterMqtt: ["mqtt"] });
    expect(loaded).toEqual(["mqtt"]);
  }, 90_000);

  it("ssh2 is loaded when a Gerrit stream is first opened, not when its module is imported; loaded first, a stream opens at once", async () => {
    const { loaded, result } = await inProcess(`
      const { loadSshClient, watchGerritStream } = await src("src/forge/gerrit-stream.ts");
      const atImport = loaded();
      const { pino } = await import("pino");
      const o = { host: "127.0.0.1", port: 9, user: "relay", privateKey: "not a key", log: pino({ level: "silent" }), onEvent: () => {} };
      const stream = watchGerritStream(o);
      await waitFor(() => loaded().includes("ssh2"));
      await stream.stop();
      await loadSshClient();
      let thrown;
      try { watchGerritStream(o); } catch (e) { thrown = e.message; }
      return { atImport, thrown };
    `);
    expect(result).toEqual({ atImport: [], thrown: "Cannot parse privateKey: Unsupported key format" });
    expect(loaded).toEqual(["ssh2"]);
  }, 60_000);

  it("a library that cannot be imported is an error naming it, at each delivery or stream attempt, never a silent no-op", async () => {
    const { result } = await inProcess(`
      const { Sinks } = await src("src/sinks/sinks.ts");
      const { TransportPool } = await src("src/sinks/transport-pool.ts");
      const { watchGerritStream } = await src("src/forge/gerrit-stream.ts");
      const { pino } = await import("pino");
      const { Writable } = await import("node:stream");
      const sinks = new Sinks(${JSON.stringify(SUBSCRIBERS)}, () => ({ subscribers: () => [] }), {});
      const pool = new TransportPool({}, pino({ level: "silent" }));
      const failed = (p) => p.then(() => "resolved", (e) => e.message);
      const loads = [await failed(pool.load("mqtt")), await failed(pool.load("mqtt"))];
      const publish = await failed(pool.broker(sinks.get("firehose")).publish({}));
      const lines = [];
      const log = pino({ level: "info" }, new Writable({ write: (c, _e, done) => (lines.push(JSON.parse(String(c))), done()) }));
      const stream = watchGerritStream({ host: "127.0.0.1", port: 9, user: "relay", privateKey: "k", log, onEvent: () => {}, backoff: { initialMs: 50 } });
      await waitFor(() => lines.length > 0);
      await stream.stop();
      return { loads, publish, gerrit: lines.map((l) => [l.level, l.msg]) };
    `, ["mqtt", "ssh2"]);
    const mqtt = "the mqtt transport cannot be loaded: its client library (mqtt) failed to import: Cannot find package 'mqtt' imported from "
      + `${pathToFileURL(join(ROOT, "src/sinks/transports/mqtt.ts")).href}; reinstall the relay's dependencies (npm ci)`;
    expect(result).toEqual({
      loads: [mqtt, mqtt],
      publish: mqtt,
      gerrit: [[50, "Gerrit stream-events relay@127.0.0.1:9: cannot open an SSH connection: its client library (ssh2) failed to import: Cannot find package 'ssh2' imported from "
        + `${pathToFileURL(join(ROOT, "src/forge/gerrit-stream.ts")).href}; reinstall the relay's dependencies (npm ci)`]],
    });
  }, 60_000);
});

/** Serves `handler` on a free port; `get(path, headers)` asks it and answers [status, content-type]. */
const SERVE = `
const { createServer } = await import("node:http");
const server = createServer((req, res) => void handler(req, res).then((taken) => taken || res.writeHead(404).end(), (e) => res.writeHead(500).end(e.message)));
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const get = async (path, headers = {}) => {
  const r = await fetch("http://127.0.0.1:" + server.address().port + path, { headers });
  const text = await r.text();
  return [r.status, r.status === 500 ? text : r.headers.get("content-type")];
};
`;
const FAKE_QUEUES = `const queue = (name) => ({ name, metaValues: { version: "bullmq:5" }, opts: {}, on() {} });
const queues = { events: queue("events"), trigger: queue("trigger"), report: queue("report"), sinks: queue("sinks") };`;
const TOKEN = "0123456789abcdef0123456789abcdef";

describe("the web role's libraries are loaded only when used", () => {
  it("the check sees them: importing the board's module, the proxy's and GitLab's client loads them", async () => {
    const { loaded } = await inProcess(`await src("src/web/admin-board.ts"); await src("src/web/webhook-proxy.ts"); await src("src/forge/gitlab-api.ts");`);
    expect(loaded).toEqual(["@bull-board", "express", "smee-client", "@gitbeaker"]);
  }, 60_000);

  it("start-up (src/index.ts, the relay's and the admin views' modules) loads none of them", async () => {
    const { loaded, result } = await inProcess(`
      const { mkdtempSync } = await import("node:fs");
      process.chdir(mkdtempSync((await import("node:os")).tmpdir() + "/openci-lazy-start-"));
      Object.assign(process.env, { PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "error" });
      await src("src/index.ts");
      await src("src/relay.ts");
      await src("src/roles/web-role.ts");
      await src("src/roles/worker-role.ts");
      const { adminViews } = await src("src/web/admin.ts");
      const { GitlabForge } = await src("src/forge/gitlab.ts");
      ${FAKE_QUEUES}
      const { pino } = await import("pino");
      adminViews({ queues, map: () => new Map(), log: pino({ level: "silent" }), adminToken: "${TOKEN}", state: {} });
      new GitlabForge({ url: "https://gitlab.example", token: undefined, env: {} });
      return loaded();
    `);
    expect(result).toEqual([]);
    expect(loaded).toEqual([]);
  }, 60_000);

  it("the admin views load Bull Board and express with the first admitted request for the board, never for a refused one", async () => {
    const { loaded, result } = await inProcess(`
      const { adminViews } = await src("src/web/admin.ts");
      ${FAKE_QUEUES}
      const { pino } = await import("pino");
      const handler = adminViews({ queues, map: () => new Map(), log: pino({ level: "silent" }), adminToken: "${TOKEN}", state: {} });
      ${SERVE}
      const html = { accept: "text/html" };
      const refused = [
        await get("/admin/queues", html),
        await get("/admin/queues", { ...html, authorization: "Bearer wrong-token-wrong-token-00" }),
        await get("/admin/queues/api/queues"),
        await get("/admin/reruns", { authorization: "Bearer ${TOKEN}" }),
        await get("/", { authorization: "Bearer ${TOKEN}" }),
      ];
      const beforeBoard = loaded();
      const board = await get("/admin/queues", { ...html, authorization: "Bearer ${TOKEN}" });
      const again = await get("/admin/queues/", { ...html, authorization: "Bearer ${TOKEN}" });
      server.close();
      return { refused, beforeBoard, board, again };
    `);
    expect(result).toEqual({
      refused: [[401, "text/html; charset=utf-8"], [401, "text/html; charset=utf-8"], [401, "application/json"], [405, null], [404, null]],
      beforeBoard: [],
      board: [200, "text/html; charset=utf-8"],
      again: [200, "text/html; charset=utf-8"],
    });
    expect(loaded).toEqual(["@bull-board", "express"]);
  }, 60_000);

  it("GitLab's client is loaded by the first GitLab call, not by a call refused for want of a token", async () => {
    const { loaded, result } = await inProcess(`
      const { GitlabForge } = await src("src/forge/gitlab.ts");
      const failed = (p) => p.then(() => "resolved", (e) => [e.kind, e.message]);
      const noToken = await failed(new GitlabForge({ url: "http://127.0.0.1:9", token: undefined, env: {} }).runStatus("group/app", "7"));
      const atNoToken = loaded();
      const call = await failed(new GitlabForge({ url: "http://127.0.0.1:9", token: "t", env: {} }).runStatus("group/app", "7"));
      return { noToken, atNoToken, call: call[0] };
    `);
    expect(result).toEqual({ noToken: ["config", "no GitLab token for http://127.0.0.1:9"], atNoToken: [], call: "transient" });
    expect(loaded).toEqual(["@gitbeaker"]);
  }, 60_000);

  it("a web library that cannot be imported is an error naming it, at each use", async () => {
    const { result } = await inProcess(`
      const { adminViews } = await src("src/web/admin.ts");
      const { GitlabForge } = await src("src/forge/gitlab.ts");
      ${FAKE_QUEUES}
      const { pino } = await import("pino");
      const handler = adminViews({ queues, map: () => new Map(), log: pino({ level: "silent" }), adminToken: "${TOKEN}", state: {} });
      ${SERVE}
      const board = [await get("/admin/queues/api/queues", { authorization: "Bearer ${TOKEN}" }), await get("/admin/queues/api/queues", { authorization: "Bearer ${TOKEN}" })];
      server.close();
      const forge = new GitlabForge({ url: "http://127.0.0.1:9", token: "t", env: {} });
      const failed = (p) => p.then(() => "resolved", (e) => [e.kind, e.message, e.hint]);
      const gitlab = [await failed(forge.runStatus("group/app", "7")), await failed(forge.visibility("group/app"))];
      return { board, gitlab };
    `, ["@bull-board/api", "@gitbeaker/rest"]);
    const board = "the admin views cannot show the queues' board: its libraries (@bull-board, express) failed to import: Cannot find package '@bull-board/api' imported from "
      + `${pathToFileURL(join(ROOT, "src/web/admin-board.ts")).href}; reinstall the relay's dependencies (npm ci)`;
    const gitlab = ["config", `GitLab cannot be reached: its client library (@gitbeaker/rest) failed to import: Cannot find package '@gitbeaker/rest' imported from `
      + `${pathToFileURL(join(ROOT, "src/forge/gitlab-api.ts")).href}`, "Reinstall the relay's dependencies (npm ci)."];
    expect(result).toEqual({
      board: [[500, board], [500, board]],
      gitlab: [gitlab, gitlab],
    });
  }, 60_000);
});

/**
 * Each role's modules (src/roles/web-role.ts, src/roles/worker-role.ts) are imported only by a
 * process that runs the role: a web process loads no worker, forge client, artifact registry or
 * transport pool; a worker process no webhook handler, API or dashboard page (issue 22: idle memory).
 * The relay is started for real, on a private Redis, in a process of its own.
 */
describe("each role loads only its own modules", () => {
  const started = (role: string) => `
    const { startTestRedis } = await src("test/helpers/redis.ts");
    const { appPrivateKey } = await src("test/helpers/keys.ts");
    const { parseEnv } = await src("src/config/env.ts");
    const { parseMap } = await src("src/map/load.ts");
    const { startRelay } = await src("src/relay.ts");
    const { pino } = await import("pino");
    const redis = await startTestRedis();
    try {
      const config = parseEnv({ APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s", REDIS_URL: redis.url, OPENCI_ROLE: "${role}", PORT: "0", HOST: "127.0.0.1", OPENCI_RECONCILE_MS: "0" });
      const relay = await startRelay({ config, map: parseMap("version: 1\\nprojects: []\\n", "<map>"), redisUrl: redis.url, log: pino({ level: "silent" }) });
      const answered = (await fetch(relay.url + "/healthz")).status;
      await relay.stop();
      return { answered, modules: relayModules() };
    } finally {
      await redis.cleanup();
    }`;
  const of = (modules: string[], folder: string) => modules.filter((m) => m.startsWith(folder));

  it("a web process: the web handlers and the dashboard, no worker, forge client or registry", async () => {
    const { result } = await inProcess(started("web"));
    const { answered, modules } = result as { answered: number; modules: string[] };

    expect(answered).toBe(200);
    expect(modules).toContain("roles/web-role.ts");
    expect(modules).toContain("web/dashboard/routes.ts");
    expect(modules).not.toContain("roles/worker-role.ts");
    // edge-from: which edges a trigger runs by, 17 lines the trust checks share with the workers
    expect(of(modules, "workers/")).toEqual(["workers/edge-from.ts"]);
    // purl: the map's artifacts are package URLs, read by the map's checks; no registry
    expect(of(modules, "artifacts/")).toEqual(["artifacts/purl.ts"]);
    expect(modules).not.toContain("forge/github.ts");
    expect(modules).not.toContain("forge/gitlab.ts");
    expect(modules).not.toContain("sinks/transport-pool.ts");
  }, 90_000);

  it("a worker process: the workers and the systems, no webhook handler, API or dashboard", async () => {
    const { result } = await inProcess(started("worker"));
    const { answered, modules } = result as { answered: number; modules: string[] };

    expect(answered).toBe(200);
    expect(modules).toContain("roles/worker-role.ts");
    expect(modules).toContain("workers/trigger.ts");
    expect(modules).toContain("artifacts/artifacts.ts");
    expect(modules).not.toContain("roles/web-role.ts");
    expect(of(modules, "web/dashboard/")).toEqual([]);
    expect(modules).not.toContain("web/github-webhooks.ts");
    expect(modules).not.toContain("web/history-api.ts");
  }, 90_000);
});
