import { readFileSync } from "node:fs";
import { z } from "zod";
import { parseMapRepo, type MapRepoSpec } from "../map/map-repo.js";
import { isRelayOwnVariable } from "../map/secret-names.js";
import { parseRedisUrl, RedisUrlError } from "../redis/redis-url.js";
import { parseEnvSinks, type EnvSinkSpec } from "../sinks/sink-spec.js";

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
const ROLES = ["all", "web", "worker"] as const;
const LOG_FORMATS = ["json", "pretty"] as const;

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

/** A whole number of milliseconds of at least `min`. */
const millis = (min: number, minMessage: string) =>
  z.coerce.number({ error: "must be a number of milliseconds" }).int("must be a whole number of milliseconds").min(min, minMessage);
/** A whole number (of `what`) of at least `min`. */
const count = (min: number, minMessage: string, error: string) => z.coerce.number({ error }).int("must be a whole number").min(min, minMessage);

/** Every variable the relay reads, checked once at start (see .env.example). */
const EnvSchema = z.object({
  APP_ID: z
    .string({ error: "is required: the numeric ID of your GitHub App (app settings → About)" })
    .regex(/^\d+$/, "must be the numeric GitHub App ID, e.g. 123456"),
  PRIVATE_KEY: optionalText,
  PRIVATE_KEY_PATH: optionalText,
  WEBHOOK_SECRET: z
    .string({ error: "is required: the webhook secret set in your GitHub App's settings" })
    .min(1, "must not be empty: use the webhook secret set in your GitHub App's settings"),
  GHE_HOST: optionalText.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name with an optional port, e.g. github.example.org")
      .optional(),
  ),
  GHE_PROTOCOL: z.enum(["https", "http"], { error: "must be https or http" }).default("https"),
  PORT: z.coerce
    .number({ error: "must be a port number" })
    .int("must be a whole number")
    .min(0, "must be between 0 and 65535")
    .max(65535, "must be between 0 and 65535")
    .default(3000),
  HOST: optionalText,
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  REDIS_URL: optionalText.pipe(z.string().superRefine(redisUrlProblem).optional()),
  OPENCI_MAP: optionalText,
  OPENCI_MAP_REPO: optionalText.pipe(
    z.string()
      .regex(/^(?:(?:github|gitlab):)?[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+@[^:\s]+:[^\s]*$/, "must be [github:|gitlab:]owner/repo@ref:folder/, e.g. openci/metadata@main:maps/")
      .optional(),
  ),
  OPENCI_MAP_REFRESH_MS: millis(1000, "must be at least 1000")
    .default(600_000),
  OPENCI_ROLE: z.enum(ROLES, { error: `must be one of ${ROLES.join(", ")}` }).default("all"),
  GITLAB_URL: z.string().regex(/^https?:\/\/[^\s/]+/, "must be the GitLab root URL, e.g. https://gitlab.com").default("https://gitlab.com"),
  GITLAB_TOKEN: optionalText,
  GITLAB_WEBHOOK_SECRET: optionalText,
  OPENCI_POLL_INTERVAL_MS: millis(100, "must be at least 100")
    .default(60_000),
  OPENCI_GITLAB_PIPELINES_PER_MINUTE: z.coerce
    .number({ error: "must be a number of pipelines" })
    .int("must be a whole number")
    .min(0, "must be 0 (no limit) or more")
    .default(25),
  OPENCI_GITHUB_WRITES_PER_MINUTE: count(0, "must be 0 (no limit) or more", "must be a number of requests").default(80),
  OPENCI_GITHUB_POINTS_PER_MINUTE: count(0, "must be 0 (no limit) or more", "must be a number of points").default(900),
  OPENCI_ADMIN_TOKEN: optionalText.pipe(z.string().min(16, "must be at least 16 characters (a random secret)").optional()),
  OPENCI_READ_TOKEN: optionalText.pipe(z.string().min(16, "must be at least 16 characters (a random secret)").optional()),
  OPENCI_PUBLIC_URL: optionalText.pipe(z.string().regex(/^https?:\/\/[^\s/]+/, "must be the relay's public root URL, e.g. https://openci.example.org").optional()),
  // The GitHub App's slug (https://github.com/apps/<slug>), written by the setup page; informational (links to the app's page).
  GITHUB_APP_SLUG: optionalText.pipe(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "must be the app's slug: the last part of https://github.com/apps/<slug>").optional()),
  // Probot's convention: a smee.io channel whose deliveries are forwarded to this relay (a laptop GitHub cannot reach).
  WEBHOOK_PROXY_URL: optionalText.pipe(z.string().regex(/^https?:\/\/[^\s/]+\/\S+$/, "must be a webhook proxy channel's URL, e.g. https://smee.io/AbC123 (smee.io → Start a new channel)").optional()),
  LOG_FORMAT: optionalText.pipe(z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(", ")} (unset: pretty on a terminal, JSON otherwise)` }).optional()),
  OPENCI_SINKS: optionalText,
  OPENCI_SINK_RETRY_MS: millis(10, "must be at least 10")
    .default(2000),
  OPENCI_MAX_TRIGGERS_PER_EVENT: count(1, "must be at least 1", "must be a number of triggers")
    .default(2000),
  OPENCI_MAX_TRIGGERS_PER_CHAIN: count(1, "must be at least 1", "must be a number of triggers")
    .default(200),
  OPENCI_JOB_LOCK_MS: millis(1000, "must be at least 1000")
    .default(30_000),
  OPENCI_RECONCILE_MS: z.coerce
    .number({ error: "must be a number of milliseconds" })
    .int("must be a whole number of milliseconds")
    .refine((v) => v === 0 || v >= 1000, "must be 0 (off) or at least 1000")
    .default(600_000),
  OPENCI_WATCH_INTERVAL_MS: millis(1, "must be at least 10000 (10 s)").default(300_000),
  // The floor of OPENCI_WATCH_INTERVAL_MS and of the map's watch.interval: lowered only by tests and local experiments.
  OPENCI_WATCH_MIN_INTERVAL_MS: millis(100, "must be at least 100").default(10_000),
  OPENCI_WATCH_GITHUB_INSTALLATION: optionalText.pipe(z.string().regex(/^[1-9][0-9]*$/, "must be an installation id: the number at the end of the installation's settings page (…/settings/installations/<id>)").transform(Number).optional()),
  // GitHub charges a GraphQL query its connections' requests ÷ 100, rounded to the nearest whole
  // point, at least 1: up to 149 repositories (one `refs` connection each) cost 1 point; 150 cost 2.
  OPENCI_WATCH_GITHUB_BATCH: count(1, "must be at least 1", "must be a number of repositories")
    .max(149, "must be at most 149: GitHub charges a query of 150 or more repositories 2 points (its connections ÷ 100, rounded), so larger batches save nothing; the default is 140")
    .default(140),
  OPENCI_WRITE_INTERVAL_MS: millis(0, "must be 0 or more")
    .default(1000),
  OPENCI_REPORT_SETTLE_MS: millis(0, "must be 0 (write each state at once) or more")
    .max(600_000, "must be at most 600000 (10 minutes): an upstream check waits this long before each write")
    .default(1000),
  OPENCI_MAP_SECRETS: optionalText.pipe(z.string().superRefine(mapSecretsProblem).optional()),
  OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER: count(0, "must be 0 (no declarations) or more", "must be a number of projects").default(50),
  OPENCI_MAX_DECLARED_EDGES_PER_PROJECT: count(1, "must be at least 1", "must be a number of upstreams").default(50),
  OPENCI_MAX_DECLARED_TRIGGERS_PER_OWNER_PER_DAY: count(0, "must be 0 (declared edges trigger nothing) or more", "must be a number of triggers").default(1000),
  OPENCI_STREAMS_PER_ADDRESS: count(0, "must be 0 (no limit) or more", "must be a number of streams").default(10),
  OPENCI_STREAM_IDLE_MS: millis(100, "must be at least 100").default(60_000),
  OPENCI_EXPORTS_PER_ADDRESS: count(0, "must be 0 (no limit) or more", "must be a number of exports").default(2),
  OPENCI_EXPORT_PART_RECORDS: count(1, "must be at least 1", "must be a number of records").default(10_000),
  OPENCI_TRUST_PROXY: count(0, "must be 0 (no proxy) or more", "must be the number of reverse proxies in front of the relay").default(0),
});

export type Role = (typeof ROLES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Config {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  /** GitHub REST API root, e.g. https://api.github.com or http://127.0.0.1:8080/api/v3 */
  githubApiUrl: string;
  /** Set only for GitHub Enterprise; Probot appends /api/v3 itself. */
  gheHost: string | undefined;
  gheProtocol: "https" | "http";
  port: number;
  host: string | undefined;
  logLevel: LogLevel;
  /** LOG_FORMAT: undefined lets the logger choose (pretty on a terminal, JSON otherwise). */
  logFormat: LogFormat | undefined;
  redisUrl: string | undefined;
  /** OPENCI_MAP: a map file or folder; undefined when only OPENCI_MAP_REPO is set. */
  mapPath: string | undefined;
  /** OPENCI_MAP_REPO: a metadata repository whose map files are read through the API. */
  mapRepo: MapRepoSpec | undefined;
  /** How often the metadata repository is read again (besides on each push to it). */
  mapRefreshMs: number;
  role: Role;
  /** GitLab root (the API is at /api/v4) and its token; a project on another host names its token variable in the map. */
  gitlabUrl: string;
  gitlabToken: string | undefined;
  /** The secret token GitLab webhooks to the relay carry (X-Gitlab-Token); without it GitLab webhooks are refused. */
  gitlabWebhookSecret: string | undefined;
  /** How often a downstream pipeline without a webhook to the relay is polled for its result. */
  pollIntervalMs: number;
  /** Minimum gap between two writes of one GitHub installation (GitHub asks for about 1 s). */
  writeIntervalMs: number;
  /** How long a new upstream check state (and its commit's roll-up and comment) waits before it is written: states within it are written once, the latest (0: each at once). */
  reportSettleMs: number;
  /** Pipeline creations per GitLab project and minute, shared by all workers (0: no limit). */
  gitlabPipelinesPerMinute: number;
  /** Content-creating GitHub requests per installation and minute, shared by all workers (0: no limit). */
  githubWritesPerMinute: number;
  /** GitHub's REST points per installation and minute (GET 1, writes 5), shared by all workers; 0: no limit */
  githubPointsPerMinute: number;
  /** Bearer token for the relay's acting API (re-runs); without it that API answers 403. */
  adminToken: string | undefined;
  /** Bearer token that reads the private history too (API, event stream, dashboard, export); the admin token does as well. */
  readToken: string | undefined;
  /** Where people and tools reach the relay; also the `source` of its CDEvents ("/openci-relay" when unset). */
  publicUrl: string | undefined;
  /** The app's slug (GITHUB_APP_SLUG), as the setup page wrote it. */
  appSlug: string | undefined;
  /** WEBHOOK_PROXY_URL: a smee.io channel forwarded to this relay's GitHub webhook route. */
  webhookProxyUrl: string | undefined;
  /** CDEvents subscribers from OPENCI_SINKS (more may come from the map's `subscribers`). */
  sinks: EnvSinkSpec[];
  /** Fan-out caps: triggers one upstream event may cause, and one cascade chain (beyond its hop limit). */
  maxTriggersPerEvent: number;
  maxTriggersPerChain: number;
  /** How long a worker holds a job between lock renewals: a killed worker's jobs run again after about this long (BullMQ's stalled-job check). */
  jobLockMs: number;
  /** How often the reconciler lists mapped upstreams' tags for ones no delivery announced (0: never). */
  reconcileMs: number;
  /** How often a watched upstream (one that sends no webhook: a git host) has its tags read, unless its map entry says `watch.interval`. */
  watchIntervalMs: number;
  /** The shortest watch interval accepted, here and in the map (default 10 s; tests lower it). */
  minWatchIntervalMs: number;
  /** The installation whose token reads watched GitHub upstreams (public repositories without the app); undefined: the app's oldest. */
  watchGithubInstallation: number | undefined;
  /** watched GitHub upstreams read by one GraphQL query (one point) */
  watchGithubBatch: number;
  /** The first retry delay of a failed delivery to a subscriber (then doubling). */
  sinkRetryMs: number;
  /** Per client address: event streams and history exports held at once (0: no limit). */
  streamsPerAddress: number;
  exportsPerAddress: number;
  /** Log entries one history.car part reads before its first byte; the rest comes in further parts. */
  exportPartRecords: number;
  /** An event-stream client that takes nothing of what was sent for this long is dropped. */
  streamIdleMs: number;
  /** Reverse proxies in front of the relay whose X-Forwarded-For names the client (0: the socket's address). */
  trustProxy: number;
  /** OPENCI_MAP_SECRETS: the only variables the map may name as secrets; undefined: any that is not the relay's own. */
  mapSecrets: ReadonlySet<string> | undefined;
  /** Declarations taken per GitHub account or GitLab top-level group, and upstreams per declaration. */
  maxDeclaredProjectsPerOwner: number;
  maxDeclaredEdgesPerProject: number;
  /** Triggers along edges only their downstreams declared, per owner and UTC day (bounds the history they cause). */
  maxDeclaredTriggersPerOwnerPerDay: number;
  /** The environment, for the variables the map names (GitLab tokens, trigger tokens, webhook secrets). */
  env: NodeJS.ProcessEnv;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment once; any problem throws a ConfigError naming every bad variable. */
export function parseEnv(env: NodeJS.ProcessEnv, readFile: (path: string) => string = readUtf8): Config {
  const parsed = EnvSchema.safeParse(env);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${String(issue.path[0] ?? "env")} ${issue.message}`);
  const e = parsed.success ? parsed.data : undefined;

  let privateKey: string | undefined;
  if (e?.PRIVATE_KEY !== undefined) {
    privateKey = e.PRIVATE_KEY.replace(/\\n/g, "\n");
  } else if (e?.PRIVATE_KEY_PATH !== undefined) {
    try {
      privateKey = readFile(e.PRIVATE_KEY_PATH);
    } catch (error) {
      problems.push(`PRIVATE_KEY_PATH cannot be read (${(error as Error).message}): point it at the app's .pem file`);
    }
  } else if (parsed.success || !parsed.error.issues.some((i) => i.path[0] === "PRIVATE_KEY")) {
    problems.push("PRIVATE_KEY or PRIVATE_KEY_PATH is required: the GitHub App's private key (.pem) or its path");
  }
  if (privateKey !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    problems.push("PRIVATE_KEY does not look like a PEM private key (expected '-----BEGIN RSA PRIVATE KEY-----')");
  }

  if (e && e.OPENCI_WATCH_INTERVAL_MS < e.OPENCI_WATCH_MIN_INTERVAL_MS) {
    problems.push(`OPENCI_WATCH_INTERVAL_MS must be at least ${e.OPENCI_WATCH_MIN_INTERVAL_MS} (${e.OPENCI_WATCH_MIN_INTERVAL_MS / 1000} s, OPENCI_WATCH_MIN_INTERVAL_MS): polling more often costs every git host a request per upstream for nothing; the default is 300000 (5 minutes)`);
  }

  const sinks = parseEnvSinks(e?.OPENCI_SINKS);
  problems.push(...sinks.problems);

  if (problems.length > 0 || e === undefined || privateKey === undefined) {
    throw new ConfigError(
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\nSee .env.example for every variable.`,
    );
  }
  return {
    appId: e.APP_ID,
    privateKey,
    webhookSecret: e.WEBHOOK_SECRET,
    githubApiUrl: e.GHE_HOST ? `${e.GHE_PROTOCOL}://${e.GHE_HOST}/api/v3` : "https://api.github.com",
    gheHost: e.GHE_HOST,
    gheProtocol: e.GHE_PROTOCOL,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    redisUrl: e.REDIS_URL,
    mapPath: e.OPENCI_MAP ?? (e.OPENCI_MAP_REPO ? undefined : "openci-map.yml"),
    mapRepo: e.OPENCI_MAP_REPO ? parseMapRepo(e.OPENCI_MAP_REPO) : undefined,
    mapRefreshMs: e.OPENCI_MAP_REFRESH_MS,
    role: e.OPENCI_ROLE,
    writeIntervalMs: e.OPENCI_WRITE_INTERVAL_MS,
    reportSettleMs: e.OPENCI_REPORT_SETTLE_MS,
    gitlabUrl: e.GITLAB_URL.replace(/\/+$/, ""),
    gitlabToken: e.GITLAB_TOKEN,
    gitlabWebhookSecret: e.GITLAB_WEBHOOK_SECRET,
    pollIntervalMs: e.OPENCI_POLL_INTERVAL_MS,
    gitlabPipelinesPerMinute: e.OPENCI_GITLAB_PIPELINES_PER_MINUTE,
    adminToken: e.OPENCI_ADMIN_TOKEN,
    readToken: e.OPENCI_READ_TOKEN,
    githubWritesPerMinute: e.OPENCI_GITHUB_WRITES_PER_MINUTE,
    githubPointsPerMinute: e.OPENCI_GITHUB_POINTS_PER_MINUTE,
    publicUrl: e.OPENCI_PUBLIC_URL?.replace(/\/+$/, ""),
    appSlug: e.GITHUB_APP_SLUG,
    webhookProxyUrl: e.WEBHOOK_PROXY_URL,
    sinks: sinks.sinks,
    sinkRetryMs: e.OPENCI_SINK_RETRY_MS,
    reconcileMs: e.OPENCI_RECONCILE_MS,
    watchIntervalMs: e.OPENCI_WATCH_INTERVAL_MS,
    minWatchIntervalMs: e.OPENCI_WATCH_MIN_INTERVAL_MS,
    watchGithubInstallation: e.OPENCI_WATCH_GITHUB_INSTALLATION,
    watchGithubBatch: e.OPENCI_WATCH_GITHUB_BATCH,
    jobLockMs: e.OPENCI_JOB_LOCK_MS,
    maxTriggersPerEvent: e.OPENCI_MAX_TRIGGERS_PER_EVENT,
    maxTriggersPerChain: e.OPENCI_MAX_TRIGGERS_PER_CHAIN,
    streamsPerAddress: e.OPENCI_STREAMS_PER_ADDRESS,
    exportsPerAddress: e.OPENCI_EXPORTS_PER_ADDRESS,
    exportPartRecords: e.OPENCI_EXPORT_PART_RECORDS,
    streamIdleMs: e.OPENCI_STREAM_IDLE_MS,
    trustProxy: e.OPENCI_TRUST_PROXY,
    mapSecrets: e.OPENCI_MAP_SECRETS ? new Set(e.OPENCI_MAP_SECRETS.split(",").map((n) => n.trim())) : undefined,
    maxDeclaredProjectsPerOwner: e.OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER,
    maxDeclaredEdgesPerProject: e.OPENCI_MAX_DECLARED_EDGES_PER_PROJECT,
    maxDeclaredTriggersPerOwnerPerDay: e.OPENCI_MAX_DECLARED_TRIGGERS_PER_OWNER_PER_DAY,
    env,
  };
}

/** What the setup page reads: the relay runs it before any GitHub App exists (no APP_ID, key or secret). */
const SetupEnvSchema = EnvSchema.pick({
  GHE_HOST: true, GHE_PROTOCOL: true, PORT: true, HOST: true, LOG_LEVEL: true, LOG_FORMAT: true, OPENCI_PUBLIC_URL: true, WEBHOOK_PROXY_URL: true,
});
export type SetupEnv = z.infer<typeof SetupEnvSchema>;

/** The setup page's variables; a bad one throws a ConfigError naming it, as parseEnv does. */
export function parseSetupEnv(env: NodeJS.ProcessEnv): SetupEnv {
  const parsed = SetupEnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `  - ${String(issue.path[0] ?? "env")} ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}\nSee .env.example for every variable.`);
}

/** OPENCI_MAP_SECRETS: variable names, none of them the relay's own. */
function mapSecretsProblem(text: string, ctx: z.RefinementCtx): void {
  for (const name of text.split(",").map((n) => n.trim())) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) {
      ctx.addIssue({ code: "custom", message: "must be variable names separated by commas, e.g. EXAMPLE_ORG_GITLAB_TOKEN,OPS_SINK_SECRET" });
      return;
    }
    if (isRelayOwnVariable(name)) ctx.addIssue({ code: "custom", message: `lists ${name}, the relay's own configuration, which the map may never name: remove it` });
  }
}

/** REDIS_URL in one of its forms (redis-url.ts); its message says how to write it. */
function redisUrlProblem(url: string, ctx: z.RefinementCtx): void {
  try {
    parseRedisUrl(url);
  } catch (error) {
    if (!(error instanceof RedisUrlError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
  }
}

function readUtf8(path: string): string {
  return readFileSync(path, "utf8");
}
