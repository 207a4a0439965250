#!/usr/bin/env node
// The Docker image, checked without a Docker engine: performs the Dockerfile's steps for real in a
// temporary folder (the stages the runtime stage copies from, then the runtime stage: its COPYs,
// its RUNs such as `npm ci --omit=dev`, its ENV, USER, HEALTHCHECK and CMD, all read from the
// Dockerfile) and starts the result as the image would, against a private redis-server. It proves
// that the relay starts, answers /readyz and stops cleanly with production dependencies only.
//
//   node scripts/check-image.mjs [--dockerfile PATH]   progress on stderr, a JSON summary on stdout
//
// What it cannot show: the base image itself (its Node and npm versions, its `node` user) and
// BuildKit's cache mounts; docs/deployment.md says so. Exit code 0 only when every check passes.
// Node built-ins only: it must not need the dev dependencies it checks the image does without.
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync,
} from "node:fs";
import { builtinModules } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { dockerignore, execForm, parseDockerfile, parseEnvArgs, stageNamed } from "./dockerfile.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** The relay's own stop takes at most about 2 × STOP_GRACE_MS (src/relay.ts) plus 0.5 s. */
const STOP_TIMEOUT_MS = 30_000;

const say = (message) => process.stderr.write(`check-image: ${message}\n`);
const checks = [];
const children = new Set();
let tmp;

function check(name, ok, detail) {
  checks.push({ name, ok: Boolean(ok), ...(detail === undefined ? {} : { detail }) });
  say(`${ok ? "ok  " : "FAIL"} ${name}${ok || detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
}

async function main() {
  const option = process.argv.indexOf("--dockerfile");
  const dockerfile = parseDockerfile(readFileSync(option > 0 ? process.argv[option + 1] : join(ROOT, "Dockerfile"), "utf8"));
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const runtime = dockerfile.stages.at(-1);
  if (!runtime) throw new Error("the Dockerfile has no stage");

  tmp = mkdtempSync(join(tmpdir(), "openci-image-"));
  chmodSync(tmp, 0o755); // the relay runs as another user and must reach its files
  refuseOuterNodeModules(tmp);
  say(`working in ${tmp}`);

  const stages = new Map();
  for (const ref of new Set(runtime.instructions.map((i) => i.flags.from).filter(Boolean))) {
    const stage = stageNamed(dockerfile, ref);
    if (!stage) throw new Error(`the runtime stage copies --from=${ref}, which is no stage of the Dockerfile`);
    say(`stage ${ref}: performing its steps (its dev install is this checkout's node_modules)`);
    stages.set(ref, await performStage(stage, join(tmp, `stage-${ref}`), { stages: new Map(), final: false }));
  }
  say("runtime stage: performing its steps");
  const image = await performStage(runtime, join(tmp, "rootfs"), { stages, final: true });

  inspect(image, pkg);
  await runAsTheImage(image);
  return image;
}

/** Performs one stage's instructions in `rootfs`, standing for the container's `/`. */
async function performStage(stage, rootfs, { stages, final }) {
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  const image = { rootfs, workdir: rootfs, env: {}, user: undefined, healthcheck: undefined, cmd: undefined, expose: [] };
  for (const instruction of stage.instructions) {
    const where = `Dockerfile:${instruction.line}`;
    switch (instruction.keyword) {
      case "WORKDIR":
        image.workdir = instruction.args.startsWith("/") ? join(rootfs, instruction.args) : join(image.workdir, instruction.args);
        mkdirSync(image.workdir, { recursive: true, mode: 0o755 });
        break;
      case "ENV":
        Object.assign(image.env, parseEnvArgs(instruction.args));
        break;
      case "COPY":
        copy(instruction, image, stages, where);
        break;
      case "RUN":
        await runStep(instruction, image, final, where);
        break;
      case "USER":
        image.user = instruction.args.trim();
        break;
      case "EXPOSE":
        image.expose.push(...instruction.args.split(/\s+/));
        break;
      case "HEALTHCHECK": {
        const command = /^CMD\s+(.*)$/s.exec(instruction.args);
        image.healthcheck = command ? (execForm(command[1]) ?? ["/bin/sh", "-c", command[1]]) : undefined;
        break;
      }
      case "CMD":
        image.cmd = execForm(instruction.args) ?? ["/bin/sh", "-c", instruction.args];
        break;
      case "ARG":
      case "LABEL":
        break;
      default:
        throw new Error(`${where}: ${instruction.keyword} is not performed by scripts/check-image.mjs; teach it`);
    }
  }
  return image;
}

function copy(instruction, image, stages, where) {
  const words = execForm(instruction.args) ?? instruction.args.split(/\s+/);
  const dest = words.pop();
  const from = instruction.flags.from;
  const sourceStage = from === undefined ? undefined : stages.get(from);
  if (from !== undefined && !sourceStage) throw new Error(`${where}: --from=${from} was not performed`);
  const ignorefile = join(ROOT, ".dockerignore");
  const ignored = from === undefined && existsSync(ignorefile) ? dockerignore(readFileSync(ignorefile, "utf8")) : () => false;
  const target = dest.startsWith("/") ? join(image.rootfs, dest) : join(image.workdir, dest);
  const intoFolder = dest.endsWith("/") || words.length > 1;
  for (const source of words) {
    if (/[*?[]/.test(source)) throw new Error(`${where}: COPY ${source}: wildcards are not performed here; name the files`);
    if (source.split("/").includes("node_modules")) throw new Error(`${where}: COPY ${source}: node_modules must come from the stage's own npm ci, never be copied`);
    if (ignored(source)) throw new Error(`${where}: COPY ${source}: .dockerignore leaves it out of the build context`);
    const path = sourceStage ? join(sourceStage.rootfs, source) : join(ROOT, source);
    if (!existsSync(path)) throw new Error(`${where}: COPY ${source}: not found (${path})`);
    // As Docker does: a folder's contents go into the destination; a file goes into it when it is a folder.
    if (statSync(path).isDirectory()) cpSync(path, target, { recursive: true });
    else {
      const file = intoFolder ? join(target, basename(source)) : target;
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      cpSync(path, file);
    }
  }
}

async function runStep(instruction, image, final, where) {
  const command = execForm(instruction.args)?.join(" ") ?? instruction.args;
  const absolute = command.split(/\s+/).find((word) => word.startsWith("/"));
  if (absolute) throw new Error(`${where}: RUN uses the absolute path ${absolute}; this check runs RUN lines on this machine, so keep them relative`);
  if (!final && /^npm ci(?![^&;|]*--omit=dev)/.test(command)) {
    // The build stage's full install is what this checkout's `npm ci` made from the same lockfile.
    const modules = join(ROOT, "node_modules");
    if (!existsSync(modules)) throw new Error("node_modules is missing: run `npm ci` first");
    symlinkSync(modules, join(image.workdir, "node_modules"));
    return;
  }
  say(`  RUN ${command}`);
  const step = launch("/bin/sh", ["-c", command], {
    cwd: image.workdir,
    env: { ...baseEnv(), ...image.env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" },
  });
  const { code } = await step.exited;
  if (code !== 0) throw new Error(`${where}: RUN ${command} failed (${code}):\n${tail(step.output())}`);
}

/** What the image holds: no dev dependency, the overrides' versions, only declared packages imported. */
function inspect(image, pkg) {
  const modules = join(image.workdir, "node_modules");
  const lock = JSON.parse(readFileSync(join(image.workdir, "package-lock.json"), "utf8")).packages ?? {};
  const devOnly = Object.entries(lock).filter(([path, entry]) => path !== "" && entry.dev).map(([path]) => path);
  const leftOver = devOnly.filter((path) => existsSync(join(image.workdir, path)));
  check("no package the lockfile marks dev-only is installed", leftOver.length === 0, leftOver.slice(0, 20));
  // A devDependency may also be a production dependency's dependency (ajv): the lockfile says which.
  const devTools = Object.keys(pkg.devDependencies ?? {}).filter((name) => lock[`node_modules/${name}`]?.dev || lock[`node_modules/${name}`]?.devOptional);
  const tools = devTools.filter((name) => existsSync(join(modules, name)));
  check(`no dev tool is installed (${devTools.length}, e.g. tsx, typescript, jest)`, devTools.length > 0 && tools.length === 0, tools);
  const installed = installedPackages(modules);
  check("a production dependency is installed (npm ci ran)", installed.has("probot"));
  const wrong = Object.entries(pkg.overrides ?? {})
    .filter(([name, version]) => typeof version === "string" && installed.has(name))
    .filter(([name, version]) => !installed.get(name).has(version.replace(/^[=^~]/, "")))
    .map(([name, version]) => `${name}: ${[...installed.get(name)].join(", ")} instead of ${version}`);
  check("package.json's overrides are honoured", wrong.length === 0, wrong);
  summary.nodeModules = { packages: [...installed.values()].reduce((n, versions) => n + versions.size, 0), overridden: Object.keys(pkg.overrides ?? {}).filter((name) => installed.has(name)) };

  const dist = join(image.workdir, "dist");
  check("dist/index.js is in the image", existsSync(join(dist, "index.js")));
  const allowed = new Set(Object.keys(pkg.dependencies ?? {}));
  const strays = [...bareImports(dist)].filter(([name]) => !allowed.has(name)).map(([name, file]) => `${name} (${relative(image.workdir, file)})`);
  check("dist/ imports only node built-ins and package.json dependencies", strays.length === 0, strays);
}

/** Starts the CMD as the image's USER in its WORKDIR with its ENV, as `docker run` would. */
async function runAsTheImage(image) {
  if (!image.cmd) throw new Error("the runtime stage has no CMD");
  const ids = userIds(image.user);
  check("the image runs as a non-root user", image.user !== undefined && ids.uid !== 0, image.user ?? "no USER");
  check("the image exposes port 3000", image.expose.includes("3000"), image.expose);
  const before = listing(image.workdir);

  const redis = await startRedis(join(tmp, "redis"));
  const port = await freePort();
  const closed = await freePort(); // GitHub at a loopback port nobody listens on: nothing leaves the machine
  const env = {
    ...imageEnv(image),
    HOST: "127.0.0.1", PORT: String(port),
    APP_ID: "1", PRIVATE_KEY: throwawayKey(), WEBHOOK_SECRET: "image-check-secret",
    REDIS_URL: redis.url, GHE_HOST: `127.0.0.1:${closed}`, GHE_PROTOCOL: "http", OPENCI_RECONCILE_MS: "0",
  };
  const url = `http://127.0.0.1:${port}`;
  summary.pids.redis = redis.pid;

  // As `docker run` starts it: both roles in one process.
  const relay = start(image, env, ids, "all");
  const ready = await untilReady(`${url}/readyz`, relay);
  check("GET /readyz answers 200 (Redis reachable)", ready.status === 200, ready.status ?? tail(relay.output()));
  if (ready.status === 200) {
    const health = await fetch(`${url}/healthz`);
    check("GET /healthz answers 200", health.status === 200, health.status);
    const metrics = await fetch(`${url}/metrics`);
    check("GET /metrics answers Prometheus text", metrics.status === 200 && (await metrics.text()).includes("openci_"), metrics.status);
    const probe = image.healthcheck && launch(image.healthcheck[0], image.healthcheck.slice(1), { cwd: image.workdir, env, ...ids });
    check("the HEALTHCHECK command succeeds", probe && (await probe.exited).code === 0, probe ? tail(probe.output()) : "no HEALTHCHECK CMD");
    const cli = launch("node", ["bin/openci-relay.js", "validate", "openci-map.yml"], { cwd: image.workdir, env, ...ids });
    const cliExit = await cli.exited;
    check("the CLI validates the bundled map", cliExit.code === 0, tail(cli.output()));
    summary.rssMiB = rssMiB(relay.child.pid);
  }
  await stop(relay, "all");

  // As the worker Deployment runs it: probes and metrics on PORT, no webhook route.
  const worker = start(image, { ...env, OPENCI_ROLE: "worker" }, ids, "worker");
  const workerReady = await untilReady(`${url}/readyz`, worker);
  check("a worker-only process answers GET /readyz 200 on PORT", workerReady.status === 200, workerReady.status ?? tail(worker.output()));
  if (workerReady.status === 200) {
    const metrics = await fetch(`${url}/metrics`);
    const webhook = await fetch(`${url}/api/github/webhooks`, { method: "POST", body: "{}" });
    check("a worker-only process serves /metrics and no webhook route", metrics.status === 200 && webhook.status === 404, [metrics.status, webhook.status]);
  }
  await stop(worker, "worker");

  const changed = diff(before, listing(image.workdir));
  check("the relay wrote nothing in its folder (read-only root file system)", changed.length === 0, changed);
  await redis.stop();

  // Without REDIS_URL the relay would start a redis-server, which the image does not have.
  const onlyNode = join(tmp, "path");
  mkdirSync(onlyNode, { mode: 0o755 });
  symlinkSync(process.execPath, join(onlyNode, "node"));
  const { REDIS_URL: _, ...withoutRedis } = env;
  const bare = start(image, { ...withoutRedis, PATH: onlyNode }, ids, "all, without REDIS_URL");
  const bareExit = await within(bare.exited, READY_TIMEOUT_MS);
  check("without REDIS_URL it stops at once, saying to set it", bareExit?.code === 1 && bare.output().includes("REDIS_URL"), tail(bare.output()));
}

// ---- processes ------------------------------------------------------------------------------

function start(image, env, ids, role) {
  say(`starting ${image.cmd.join(" ")} (OPENCI_ROLE=${role}) as uid ${ids.uid ?? process.getuid?.()} on port ${env.PORT}`);
  const relay = launch(image.cmd[0], image.cmd.slice(1), { cwd: image.workdir, env, ...ids });
  summary.pids.relays.push(relay.child.pid);
  return relay;
}

async function stop(relay, role) {
  const started = Date.now();
  relay.child.kill("SIGTERM");
  const stopped = await within(relay.exited, STOP_TIMEOUT_MS);
  summary.stopMs[role] = Date.now() - started;
  check(`SIGTERM stops the relay (OPENCI_ROLE=${role}) with exit code 0`, stopped?.code === 0, stopped ?? `still running after ${STOP_TIMEOUT_MS} ms`);
}

function launch(command, args, { cwd, env, uid, gid }) {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], ...(uid === undefined ? {} : { uid, gid }) });
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  children.add(child);
  const exited = new Promise((resolve) => {
    child.once("error", (err) => {
      output += String(err);
      children.delete(child);
      resolve({ code: null, signal: null });
    });
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, exited, output: () => output };
}

async function startRedis(dir) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const redis = launch("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
    "--maxmemory-policy", "noeviction", "--protected-mode", "yes",
  ], { cwd: dir, env: baseEnv() });
  const deadline = Date.now() + 10_000;
  while (!redis.output().includes("Ready to accept connections")) {
    if (Date.now() > deadline || redis.child.exitCode !== null) throw new Error(`redis-server did not start:\n${tail(redis.output())}`);
    await sleep(25);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: redis.child.pid,
    stop: async () => {
      redis.child.kill("SIGTERM");
      if (!(await within(redis.exited, 5000))) redis.child.kill("SIGKILL");
    },
  };
}

async function untilReady(url, relay) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  relay.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (res?.status === 200) return { status: 200 };
    await sleep(200);
  }
  return { status: undefined };
}

async function cleanup() {
  for (const child of children) child.kill("SIGKILL");
  await sleep(children.size > 0 ? 200 : 0);
  if (tmp) {
    rmSync(tmp, { recursive: true, force: true });
    summary.removed = !existsSync(tmp);
  }
}

// ---- the image's environment ------------------------------------------------------------------

/** PATH (this Node first, no node_modules/.bin), HOME, nothing else of this shell: no NODE_OPTIONS, no npm_*. */
function baseEnv() {
  const path = [dirname(process.execPath), ...(process.env.PATH ?? "").split(delimiter)].filter((d) => d && !d.includes("node_modules"));
  return { PATH: [...new Set(path)].join(delimiter), ...(process.env.HOME ? { HOME: process.env.HOME } : {}) };
}

function imageEnv(image) {
  const { HOME: _, ...env } = baseEnv();
  return { ...env, ...image.env };
}

/** USER 1000:1000, or a name this check knows; applied only when it runs as root. */
function userIds(user) {
  if (user === undefined || process.getuid?.() !== 0) return {};
  const [name, group] = user.split(":");
  const known = { root: 0, node: 1000 };
  const uid = /^\d+$/.test(name) ? Number(name) : known[name];
  if (uid === undefined) throw new Error(`USER ${user}: unknown name; use a numeric uid`);
  const gid = group === undefined ? uid : /^\d+$/.test(group) ? Number(group) : known[group];
  return { uid, gid };
}

function throwawayKey() {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
}

/** A node_modules above the temporary folder would let the image find packages it does not have. */
function refuseOuterNodeModules(dir) {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(join(d, "node_modules"))) throw new Error(`${join(d, "node_modules")} exists: Node would resolve packages from it; set TMPDIR elsewhere`);
    if (dirname(d) === d) return;
  }
}

// ---- looking at files -------------------------------------------------------------------------

/** Every package below node_modules (nested ones too): name → its versions. */
function installedPackages(modules, found = new Map()) {
  if (!existsSync(modules)) return found;
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith(".")) continue;
    const dirs = entry.startsWith("@") ? readdirSync(join(modules, entry)).map((e) => join(entry, e)) : [entry];
    for (const name of dirs) {
      const manifest = join(modules, name, "package.json");
      if (!existsSync(manifest)) continue;
      const { version } = JSON.parse(readFileSync(manifest, "utf8"));
      found.set(name, new Set([...(found.get(name) ?? []), version]));
      installedPackages(join(modules, name, "node_modules"), found);
    }
  }
  return found;
}

/** Package names that dist/'s JavaScript imports (static and dynamic), with a file that does. */
function bareImports(dist) {
  const found = new Map();
  const builtins = new Set(builtinModules);
  const patterns = [/\b(?:import|export)\s[^;"']*?\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /^\s*import\s*["']([^"']+)["']/gm];
  for (const file of files(dist).filter((f) => f.endsWith(".js"))) {
    const text = readFileSync(file, "utf8");
    for (const pattern of patterns) {
      for (const [, specifier] of text.matchAll(pattern)) {
        if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:") || builtins.has(specifier)) continue;
        const name = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
        if (!found.has(name)) found.set(name, file);
      }
    }
  }
  return found;
}

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Every path below `dir` (node_modules is read-only to the relay and large: only its top level). */
function listing(dir) {
  const paths = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      paths.push(`${relative(dir, path)}:${lstatSync(path).size}`);
      if (e.isDirectory() && e.name !== "node_modules") walk(path);
    }
  };
  walk(dir);
  return paths.sort();
}

function diff(before, after) {
  const was = new Set(before);
  const is = new Set(after);
  return [...after.filter((p) => !was.has(p)).map((p) => `+${p}`), ...before.filter((p) => !is.has(p)).map((p) => `-${p}`)];
}

function rssMiB(pid) {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return undefined;
  }
}

// ---- small helpers ----------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function within(promise, ms) {
  let timer;
  const result = await Promise.race([promise, new Promise((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  clearTimeout(timer);
  return result;
}

function tail(text, lines = 15) {
  return text.trim().split("\n").slice(-lines).join("\n");
}

// ---- run --------------------------------------------------------------------------------------

const summary = { ok: false, tmp: undefined, removed: false, pids: { relays: [] }, rssMiB: undefined, stopMs: {}, checks };
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
let failure;
try {
  await main();
} catch (error) {
  failure = error instanceof Error ? error.message : String(error);
  say(`error: ${failure}`);
} finally {
  summary.tmp = tmp;
  await cleanup();
}
summary.ok = failure === undefined && checks.length > 0 && checks.every((c) => c.ok) && summary.removed;
if (failure !== undefined) summary.error = failure;
say(summary.ok ? `all ${checks.length} checks passed` : "the image check failed");
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(summary.ok ? 0 : 1);
