import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { LoopbackFake } from "../../helpers/loopback-fake.js";

/**
 * Fake incoming webhooks on loopback, one server for the three services (SOURCE.md): Slack's
 * `POST /services/T…/B…/<secret>`, Mattermost's `POST /hooks/<id>`, Discord's
 * `POST /api[/v<N>]/webhooks/<id>/<token>`. Each checks the body against its documented fields and
 * answers as the service does (Slack `ok` / an error string, Mattermost `ok` / an app error, Discord
 * 204 or the message with `?wait=true` / a JSON error), and works out which mentions would notify
 * people (`pings`). A 429 with Retry-After can be programmed per hook. Any request outside the
 * documented routes and fields is a `problem` (a test fails on it) answered with the service's error.
 */

export type WebhookFormat = "slack" | "mattermost" | "discord";

export interface RecordedWebhookRequest {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  format: WebhookFormat | undefined;
  body: unknown;
  status: number;
  at: number;
}

export interface WebhookPost {
  /** the hook's URL, as `slackHook()` & co. returned it */
  hook: string;
  format: WebhookFormat;
  body: Record<string, unknown>;
  /** the mentions that would notify someone: Slack `<!channel>`, `<@U…>`; Mattermost `@channel`, `@name`; Discord what `allowed_mentions` lets through */
  pings: string[];
  at: number;
}

interface Hook {
  format: WebhookFormat;
  url: string;
  path: string;
  /** Discord: the token the id's webhook has (a wrong one is 401) */
  token?: string;
  removed: boolean;
  limits: { times: number; retryAfterSeconds: number }[];
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** Slack incoming webhooks: the message payload fields, and unfurling (Link unfurling, "Classic unfurling"). */
const SLACK_KEYS = new Set(["text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links", "unfurl_media"]);
/** Mattermost incoming webhooks: the parameter table. */
const MATTERMOST_KEYS = new Set(["text", "channel", "username", "icon_url", "icon_emoji", "attachments", "type", "props"]);
/** Discord Execute Webhook: JSON params. */
const DISCORD_KEYS = new Set(["content", "username", "avatar_url", "tts", "embeds", "allowed_mentions", "components", "flags", "thread_name", "applied_tags", "poll", "attachments"]);
const DISCORD_QUERY = new Set(["wait", "thread_id", "with_components"]);
const DISCORD_MENTION_TYPES = new Set(["roles", "users", "everyone"]);
const DISCORD_ALLOWED_KEYS = new Set(["parse", "roles", "users", "replied_user"]);

export class FakeChatWebhooks extends LoopbackFake {
  readonly requests: RecordedWebhookRequest[] = [];
  readonly problems: string[] = [];
  readonly posts: WebhookPost[] = [];
  private readonly hooks = new Map<string, Hook>();
  private nextMessage = 1;

  private constructor() {
    super();
  }

  static async start(): Promise<FakeChatWebhooks> {
    const fake = new FakeChatWebhooks();
    await fake.listen();
    return fake;
  }

  /* ----- controls ----------------------------------------------------------------------------- */

  /** A new Slack incoming webhook: `<url>/services/T<team>/B<hook>/<24 characters>`. */
  slackHook(): string {
    const path = `/services/T${id(9)}/B${id(9)}/${randomBytes(18).toString("base64url").slice(0, 24)}`;
    return this.add({ format: "slack", path });
  }

  /** A new Mattermost incoming webhook: `<url>/hooks/<26 lower-case letters and digits>`. */
  mattermostHook(): string {
    return this.add({ format: "mattermost", path: `/hooks/${id(26).toLowerCase()}` });
  }

  /** A new Discord webhook: `<url>/api/webhooks/<snowflake>/<token>` (`version` adds `/v10` and the like). */
  discordHook(version?: number): string {
    const snowflake = String(BigInt(Date.now() - 1420070400000) << 22n);
    const token = randomBytes(51).toString("base64url").slice(0, 68);
    return this.add({ format: "discord", path: `/api${version ? `/v${version}` : ""}/webhooks/${snowflake}/${token}`, token });
  }

  /** The hook is deleted: the service answers it as unknown. */
  remove(hook: string): void {
    this.hook(hook).removed = true;
  }

  /** The hook's next `times` posts answer 429 with Retry-After (and Discord's JSON `retry_after`). */
  rateLimit(hook: string, o: { times?: number; retryAfterSeconds: number }): void {
    this.hook(hook).limits.push({ times: o.times ?? 1, retryAfterSeconds: o.retryAfterSeconds });
  }

  postsTo(hook: string): WebhookPost[] {
    return this.posts.filter((p) => p.hook === hook);
  }

  private add(o: { format: WebhookFormat; path: string; token?: string }): string {
    const url = `${this.url}${o.path}`;
    this.hooks.set(discordKey(o.path) ?? o.path, { ...o, url, removed: false, limits: [] });
    return url;
  }

  private hook(url: string): Hook {
    const path = new URL(url).pathname;
    const hook = this.hooks.get(discordKey(path) ?? path);
    if (!hook) throw new Error(`no hook ${url}`);
    return hook;
  }

  /* ----- the services ------------------------------------------------------------------------- */

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const seen: RecordedWebhookRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search.slice(1), headers: req.headers, format: undefined, body: undefined, status: 0, at: Date.now() };
    this.requests.push(seen);
    const raw = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    const send = (a: Answer) => {
      seen.status = a.status;
      if (a.body === undefined) {
        res.writeHead(a.status, a.headers ?? {});
        return void res.end();
      }
      const text = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { "content-type": typeof a.body === "string" ? "text/plain" : "application/json", "content-length": String(Buffer.byteLength(text)), ...a.headers });
      res.end(text);
    };
    const problem = (what: string, a: Answer) => {
      this.problems.push(`webhooks: ${req.method} ${url.pathname}${url.search}: ${what}`);
      send(a);
    };

    const format = routeFormat(url.pathname);
    seen.format = format;
    if (!format) return problem("not a webhook route of the fake", { status: 404, body: "Not Found" });
    const error = errorShape(format);
    if (req.method !== "POST") return problem("incoming webhooks take POST", { status: 405, body: error(405, "Method Not Allowed") });
    if (format !== "discord" && url.search !== "") return problem(`${format}'s incoming webhooks take no query`, { status: 400, body: error(400, "invalid_payload") });
    if (format === "discord") {
      for (const name of url.searchParams.keys()) {
        if (!DISCORD_QUERY.has(name)) return problem(`query parameter ${name} is not documented for Execute Webhook`, { status: 400, body: error(400, "Invalid query") });
      }
    }
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      return problem("the body must be sent as application/json (the form-encoded and multipart variants are not imitated)", { status: 400, body: error(400, "invalid_payload") });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return problem("the body is not JSON", { status: 400, body: error(400, "invalid_payload") });
    }
    seen.body = body;
    if (body === null || typeof body !== "object" || Array.isArray(body)) return problem("the body must be a JSON object", { status: 400, body: error(400, "invalid_payload") });

    const hook = this.hooks.get(discordKey(url.pathname) ?? url.pathname);
    if (!hook || hook.removed) return send(unknownHook(format));
    if (format === "discord" && hook.path !== url.pathname) {
      // A known webhook id with another token.
      if (!url.pathname.endsWith(`/${hook.token}`)) return send({ status: 401, body: { message: "Invalid Webhook Token", code: 50027 } });
    }
    const limit = hook.limits.find((l) => l.times > 0);
    if (limit) {
      limit.times--;
      return send(rateLimited(format, limit.retryAfterSeconds));
    }
    const b = body as Record<string, unknown>;
    switch (format) {
      case "slack": return this.slack(hook, b, problem, send);
      case "mattermost": return this.mattermost(hook, b, problem, send);
      case "discord": return this.discord(hook, b, url.searchParams, problem, send);
    }
  }

  private slack(hook: Hook, b: Record<string, unknown>, problem: (what: string, a: Answer) => void, send: (a: Answer) => void): void {
    const unknown = Object.keys(b).filter((k) => !SLACK_KEYS.has(k));
    if (unknown.length) return problem(`fields ${unknown.join(", ")} are not documented for incoming webhooks`, { status: 400, body: "invalid_payload" });
    for (const flag of ["unfurl_links", "unfurl_media", "mrkdwn"]) {
      if (b[flag] !== undefined && typeof b[flag] !== "boolean") return problem(`${flag} must be a boolean`, { status: 400, body: "invalid_payload" });
    }
    if (b.text !== undefined && typeof b.text !== "string") return problem("text must be a string", { status: 400, body: "invalid_payload" });
    if (!b.text && b.blocks === undefined && b.attachments === undefined) return send({ status: 400, body: "no_text" });
    const why = typeof b.text === "string" ? slackUnescaped(b.text) : undefined;
    if (why) return problem(why, { status: 400, body: "invalid_payload" });
    this.posts.push({ hook: hook.url, format: "slack", body: b, pings: slackPings(String(b.text ?? "")), at: Date.now() });
    send({ status: 200, body: "ok" });
  }

  private mattermost(hook: Hook, b: Record<string, unknown>, problem: (what: string, a: Answer) => void, send: (a: Answer) => void): void {
    const unknown = Object.keys(b).filter((k) => !MATTERMOST_KEYS.has(k));
    if (unknown.length) return problem(`parameters ${unknown.join(", ")} are not in Mattermost's incoming webhook table`, { status: 400, body: mattermostError("web.incoming_webhook.parse.app_error", "Unable to parse incoming data.") });
    if (b.text !== undefined && typeof b.text !== "string") return problem("text must be a string", { status: 400, body: mattermostError("web.incoming_webhook.parse.app_error", "Unable to parse incoming data.") });
    if (!b.text && b.attachments === undefined) return send({ status: 400, body: mattermostError("web.incoming_webhook.text.app_error", "No text specified.") });
    this.posts.push({ hook: hook.url, format: "mattermost", body: b, pings: mattermostPings(String(b.text ?? "")), at: Date.now() });
    send({ status: 200, body: "ok" });
  }

  private discord(hook: Hook, b: Record<string, unknown>, query: URLSearchParams, problem: (what: string, a: Answer) => void, send: (a: Answer) => void): void {
    const formError = (field: string, code: string, message: string): Answer => ({
      status: 400, body: { message: "Invalid Form Body", code: 50035, errors: { [field]: { _errors: [{ code, message }] } } },
    });
    const unknown = Object.keys(b).filter((k) => !DISCORD_KEYS.has(k));
    if (unknown.length) return problem(`JSON params ${unknown.join(", ")} are not documented for Execute Webhook`, formError(unknown[0]!, "UNKNOWN_FIELD", "Unknown field."));
    for (const name of ["wait", "with_components"]) {
      const v = query.get(name);
      if (v !== null && !["True", "true", "1", "False", "false", "0"].includes(v)) return problem(`${name}=${v} is not a boolean query string`, { status: 400, body: { message: "Invalid query", code: 50035 } });
    }
    if (b.content !== undefined && typeof b.content !== "string") return problem("content must be a string", formError("content", "BASE_TYPE_STRING", "Must be a string."));
    const content = typeof b.content === "string" ? b.content : "";
    if (Array.from(content).length > 2000) return send(formError("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."));
    if (content === "" && b.embeds === undefined && b.components === undefined && b.poll === undefined) return send({ status: 400, body: { message: "Cannot send an empty message", code: 50006 } });
    const allowed = b.allowed_mentions as Record<string, unknown> | undefined;
    if (allowed !== undefined) {
      const why = checkAllowedMentions(allowed);
      if (why) return problem(why, formError("allowed_mentions", "ALLOWED_MENTIONS_INVALID", why));
    }
    const pings = discordPings(content, allowed);
    this.posts.push({ hook: hook.url, format: "discord", body: b, pings, at: Date.now() });
    if (!["True", "true", "1"].includes(query.get("wait") ?? "")) return send({ status: 204 });
    const webhookId = /\/webhooks\/(\d+)\//.exec(hook.path)![1]!;
    send({
      status: 200,
      body: {
        id: String(BigInt(Date.now() - 1420070400000) << 22n | BigInt(this.nextMessage++)), type: 0, content, channel_id: "1100000000000000000",
        webhook_id: webhookId, author: { id: webhookId, username: "Relay", bot: true }, mentions: [], mention_roles: [],
        mention_everyone: pings.includes("@everyone") || pings.includes("@here"), timestamp: new Date().toISOString(), tts: false, embeds: [], attachments: [],
      },
    });
  }
}

function id(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from(randomBytes(n), (x) => alphabet[x % alphabet.length]).join("");
}

function routeFormat(path: string): WebhookFormat | undefined {
  if (/^\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9_-]+$/.test(path)) return "slack";
  if (/^\/hooks\/[a-z0-9]+$/.test(path)) return "mattermost";
  if (/^\/api(\/v\d+)?\/webhooks\/\d+\/[A-Za-z0-9_-]+$/.test(path)) return "discord";
  return undefined;
}

/** Discord finds a webhook by its id (the token is then checked), whatever the API version in the path. */
function discordKey(path: string): string | undefined {
  const m = /^\/api(?:\/v\d+)?\/webhooks\/(\d+)\//.exec(path);
  return m ? `discord:${m[1]}` : undefined;
}

function errorShape(format: WebhookFormat): (status: number, slack: string) => unknown {
  if (format === "slack") return (_s, slack) => slack;
  if (format === "mattermost") return (s, message) => ({ id: "api.context.invalid_param.app_error", message, status_code: s });
  return (_s, message) => ({ message, code: 0 });
}

function unknownHook(format: WebhookFormat): Answer {
  if (format === "slack") return { status: 404, body: "no_service" };
  if (format === "mattermost") return { status: 400, body: mattermostError("web.incoming_webhook.invalid.app_error", "Invalid webhook.") };
  return { status: 404, body: { message: "Unknown Webhook", code: 10015 } };
}

function rateLimited(format: WebhookFormat, seconds: number): Answer {
  const headers = { "retry-after": String(Math.ceil(seconds)) };
  if (format === "discord") {
    return {
      status: 429, body: { message: "You are being rate limited.", retry_after: seconds, global: false },
      headers: { ...headers, "x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": String(seconds), "x-ratelimit-scope": "shared" },
    };
  }
  if (format === "mattermost") return { status: 429, body: { ...mattermostError("api.context.rate_limit.app_error", "Too many requests."), status_code: 429 }, headers };
  return { status: 429, body: "rate_limited", headers };
}

function mattermostError(id: string, message: string): Record<string, unknown> {
  return { id, message, detailed_error: "", request_id: randomBytes(13).toString("hex"), status_code: 400 };
}

/** Slack's control characters in text: `&` starts an entity, `<` … `>` is a link, mention or command. A bare `&` or `>` outside them is a sender that forgot to escape. */
function slackUnescaped(text: string): string | undefined {
  const stripped = text.replace(/<[^<>]*>/g, "").replace(/&(amp|lt|gt);/g, "");
  if (/[&<>]/.test(stripped)) return "text holds an unescaped &, < or > (Slack's formatting: escape them as &amp; &lt; &gt;)";
  return undefined;
}

/** Slack's mention syntax (Formatting, "Mentioning users/groups", "Special mentions"). */
function slackPings(text: string): string[] {
  return [...text.matchAll(/<(!(?:channel|here|everyone)|@[UW][A-Z0-9]+|!subteam\^[A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => `<${m[1]}>`);
}

/** Mattermost: `@name`, `@channel`, `@here`, `@all`, and Slack's `<!channel>`-style ones it translates. */
function mattermostPings(text: string): string[] {
  const at = [...text.matchAll(/(?:^|[^\p{L}\p{N}_])@([a-z0-9][a-z0-9._-]*)/giu)].map((m) => `@${m[1]}`);
  const slack = [...text.matchAll(/<!(channel|here|all)>/g)].map((m) => `@${m[1]}`);
  return [...at, ...slack];
}

function checkAllowedMentions(a: Record<string, unknown>): string | undefined {
  const unknown = Object.keys(a).filter((k) => !DISCORD_ALLOWED_KEYS.has(k));
  if (unknown.length) return `allowed_mentions fields ${unknown.join(", ")} are not documented`;
  if (a.parse !== undefined && (!Array.isArray(a.parse) || a.parse.some((p) => !DISCORD_MENTION_TYPES.has(p as string)))) return "allowed_mentions.parse holds something other than roles, users, everyone";
  if (Array.isArray(a.parse) && ((a.parse.includes("users") && a.users !== undefined) || (a.parse.includes("roles") && a.roles !== undefined))) {
    return "allowed_mentions: parse users/roles and a users/roles list are mutually exclusive";
  }
  return undefined;
}

/** What Discord would notify: the mentions in the content that `allowed_mentions` (a webhook's default: users only) lets through. */
function discordPings(content: string, allowed: Record<string, unknown> | undefined): string[] {
  const parse = new Set<string>(Array.isArray(allowed?.parse) ? (allowed.parse as string[]) : allowed ? [] : ["users"]);
  const users = new Set<string>(Array.isArray(allowed?.users) ? (allowed.users as string[]) : []);
  const roles = new Set<string>(Array.isArray(allowed?.roles) ? (allowed.roles as string[]) : []);
  const pings: string[] = [];
  for (const m of content.matchAll(/@(everyone|here)|<@!?(\d+)>|<@&(\d+)>/g)) {
    if (m[1] && parse.has("everyone")) pings.push(`@${m[1]}`);
    if (m[2] && (parse.has("users") || users.has(m[2]))) pings.push(`<@${m[2]}>`);
    if (m[3] && (parse.has("roles") || roles.has(m[3]))) pings.push(`<@&${m[3]}>`);
  }
  return pings;
}
