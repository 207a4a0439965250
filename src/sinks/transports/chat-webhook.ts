import { UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { z } from "zod";
import { isLoopback } from "../../artifacts/purl.js";
import type { ChatLine, ChatTransport } from "../transport.js";
import { DEFAULT_RATE_LIMIT_WAIT_MS, retryAfterHeaderMs, waitOutRateLimit } from "./http-wait.js";
import { ENV_NAME, envValue } from "./secret-env.js";

/**
 * A chat channel as a subscriber through its incoming webhook: Slack and Mattermost (`{ text }`,
 * Slack's format, which Mattermost accepts) or Discord (`{ content }`). The webhook URL is itself the
 * secret (whoever has it can post): the map names only its variable (`url_env`), OPENCI_SINKS may
 * give it as `url`, and no error or log line ever shows it.
 *
 * Not idempotent: none of these webhooks takes an idempotency key, so the line's key cannot dedupe
 * there. A retry after an answer that was lost (a timeout after the service posted) may post the line
 * twice: delivery is at least once.
 *
 * Never a ping: Slack's control characters `&`, `<`, `>` are escaped (downstream text such as
 * `<!channel>` stays text), Mattermost's `@` mentions are broken with a word joiner (it links
 * `@channel` in plain text), and Discord is told to parse no mention at all (`allowed_mentions`).
 *
 * What only a person can fix (an unset variable, a URL that is not one, a deleted or disabled
 * webhook, an archived channel, a message the service refuses) is an UnrecoverableError: the sinks
 * queue dead-letters the line at once. A 5xx, a network failure or a rate limit longer than the
 * time a line has stay plain errors, retried with backoff.
 */

export const CHAT_WEBHOOK_FORMATS = ["slack", "mattermost", "discord"] as const;
export type ChatWebhookFormat = (typeof CHAT_WEBHOOK_FORMATS)[number];

const URL_EXAMPLE = '"SLACK_WEBHOOK_URL"';

/** The subscriber's own fields (beside its `id`): what the map's subscriber entry may say. */
export const ChatWebhookOptions = z.strictObject({
  format: z.enum(CHAT_WEBHOOK_FORMATS, { error: `must be one of ${CHAT_WEBHOOK_FORMATS.join(", ")}, e.g. "slack"` })
    .describe("Which service's incoming webhook the URL is: slack, mattermost (both get Slack's { text }) or discord ({ content })."),
  url_env: z.string().regex(ENV_NAME, `must name an environment variable, e.g. ${URL_EXAMPLE}`)
    .describe("The variable holding the incoming-webhook URL. The URL is a secret (anyone holding it can post), so it is never written in the map."),
});
export type ChatWebhookOptions = z.infer<typeof ChatWebhookOptions>;

export interface ChatWebhookSink {
  id: string;
  format: ChatWebhookFormat;
  /** the webhook URL itself: only from OPENCI_SINKS (environment) */
  url?: string | undefined;
  url_env?: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Discord's `content` is "up to 2000 characters" (Execute Webhook). */
const DISCORD_MAX = 2000;

export function chatWebhookTransport(sink: ChatWebhookSink, env: NodeJS.ProcessEnv, log: Logger, o: { timeoutMs?: number } = {}): ChatTransport {
  if (!(CHAT_WEBHOOK_FORMATS as readonly string[]).includes(sink.format)) {
    throw new UnrecoverableError(`subscriber '${sink.id}': format must be one of ${CHAT_WEBHOOK_FORMATS.join(", ")}, e.g. "slack"`);
  }
  if ((sink.url === undefined) === (sink.url_env === undefined)) {
    throw new UnrecoverableError(`subscriber '${sink.id}' needs exactly one of url_env (the variable holding the webhook URL, e.g. ${URL_EXAMPLE}) and url (only in OPENCI_SINKS)`);
  }
  if (sink.url_env !== undefined && !ENV_NAME.test(sink.url_env)) {
    throw new UnrecoverableError(`subscriber '${sink.id}': url_env must name an environment variable, e.g. ${URL_EXAMPLE}`);
  }
  const source = sink.url_env ?? `OPENCI_SINKS (subscriber '${sink.id}', its url)`;
  return new ChatWebhook(sink.id, sink.format, () => sink.url ?? envValue(env, sink.url_env!), source, log, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** Slack's escaping (Formatting, "Escaping text"): only the three control characters, `&` first. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Mattermost links `@name`, `@channel`, `@here`, `@all` in webhook text: a word joiner after `@` keeps the text and loses the mention. */
export function mattermostDefuse(text: string): string {
  return text.replace(/@(?=[\p{L}\p{N}_.-])/gu, "@\u2060");
}

/** The request body of one line, per format. */
export function webhookBody(format: ChatWebhookFormat, text: string): Record<string, unknown> {
  switch (format) {
    case "slack":
      return { text: slackEscape(text), unfurl_links: false, unfurl_media: false };
    case "mattermost":
      return { text: slackEscape(mattermostDefuse(text)) };
    case "discord":
      return { content: truncate(text, DISCORD_MAX), allowed_mentions: { parse: [] } };
  }
}

class ChatWebhook implements ChatTransport {
  private closing = new AbortController();

  constructor(
    private readonly id: string,
    private readonly format: ChatWebhookFormat,
    private readonly url: () => string | undefined,
    /** where the URL comes from, for messages: its variable */
    private readonly source: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {}

  async say(line: ChatLine): Promise<void> {
    const target = this.target();
    const body = JSON.stringify(webhookBody(this.format, line.text));
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`subscriber '${this.id}': posting to the ${this.format} webhook took longer than ${this.timeoutMs} ms`);
      let status: number;
      let text: string;
      let headers: Headers;
      try {
        const res = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "openci-relay" },
          body,
          redirect: "error",
          signal: AbortSignal.any([AbortSignal.timeout(left), this.closing.signal]),
        });
        status = res.status;
        headers = res.headers;
        text = await res.text();
      } catch (error) {
        throw new Error(`subscriber '${this.id}': posting to the ${this.format} webhook in ${this.source} failed: ${this.scrub(fetchWhy(error as Error, this.timeoutMs), target)}`);
      }
      if (status >= 200 && status <= 299) {
        this.log.debug({ sink: this.id, format: this.format, status }, "chat line posted");
        return;
      }
      if (status === 429) {
        const wait = rateLimitWaitMs(this.format, headers, text) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
        if (Date.now() + wait > deadline) {
          throw new Error(`subscriber '${this.id}': the ${this.format} webhook is rate limiting the relay and asks to wait ${wait} ms, longer than the ${this.timeoutMs} ms a line may take: retried later`);
        }
        this.log.warn({ sink: this.id, format: this.format, waitMs: wait }, "chat webhook rate limited: waiting");
        await waitOutRateLimit(wait, this.closing.signal, this.id);
        continue;
      }
      const { hint, permanent } = refusal(this.format, status, text, this.source);
      const refused = `subscriber '${this.id}': the ${this.format} webhook in ${this.source} answered ${status}${this.detail(text, target)}${hint}`;
      throw permanent ? new UnrecoverableError(refused) : new Error(refused);
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.closing = new AbortController();
  }

  /** The URL to POST to, checked (https, http only on loopback); Discord's gets `wait=true` so a message that is not saved is an error, not a silent 204. */
  private target(): URL {
    const raw = this.url();
    if (!raw) throw new UnrecoverableError(`subscriber '${this.id}': ${this.source} is not set: set it to the ${this.format} incoming-webhook URL`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UnrecoverableError(`subscriber '${this.id}': ${this.source} is not a URL: set it to the ${this.format} incoming-webhook URL as the service shows it`);
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
      throw new UnrecoverableError(`subscriber '${this.id}': ${this.source} must be an https URL (http only on loopback)`);
    }
    if (this.format === "discord") url.searchParams.set("wait", "true");
    return url;
  }

  /** The service's short reason (Slack's error string, Discord's `message`/`code`, Mattermost's `id`), never the URL. */
  private detail(text: string, target: URL): string {
    const reason = errorReason(text);
    return reason ? ` (${this.scrub(reason, target).slice(0, 200)})` : "";
  }

  /** Removes the webhook URL and its path (the secret part) from any text before it is shown. */
  private scrub(text: string, target: URL): string {
    let out = text;
    for (const secret of [target.href, this.url() ?? "", target.pathname]) {
      if (secret.length > 1) out = out.split(secret).join(`<${this.source}>`);
    }
    return out;
  }
}

function errorReason(text: string): string | undefined {
  const trimmed = text.trim();
  if (/^[a-z_]{1,80}$/.test(trimmed)) return trimmed; // Slack: invalid_payload, no_service, channel_not_found, …
  try {
    const v = JSON.parse(trimmed) as { message?: unknown; code?: unknown; id?: unknown; error?: unknown };
    const parts = [v.id, v.code, v.message, v.error].filter((p) => typeof p === "string" || typeof p === "number");
    return parts.length ? parts.join(" ") : undefined;
  } catch {
    return undefined;
  }
}

/** What a person should do about a refused line, by status; `permanent` when only a person can fix it (no retry helps). */
function refusal(format: ChatWebhookFormat, status: number, text: string, source: string): { hint: string; permanent: boolean } {
  const recreate = `create a new incoming webhook in ${format === "discord" ? "the channel's Integrations settings" : format === "slack" ? "the Slack app's Incoming Webhooks page" : "Integrations > Incoming Webhooks"} and set ${source} to its URL`;
  const permanent = (hint: string) => ({ hint, permanent: true });
  if (status === 404 || status === 401 || (format === "mattermost" && status === 400 && text.includes("incoming_webhook.invalid"))) {
    return permanent(`: the webhook does not exist (deleted, or the URL in ${source} is mistyped or incomplete): ${recreate}`);
  }
  if (status === 410) return permanent(`: the channel is archived: unarchive it, or ${recreate}`);
  if (status === 403) return permanent(`: the workspace refuses posts through this webhook (disabled or restricted): ask its admin, or ${recreate}`);
  if (status === 400 || status === 422) return permanent(`: the service refused the message itself`);
  if (status >= 500) return { hint: ": the service failed; retried later", permanent: false };
  return { hint: "", permanent: false };
}

/**
 * How long a 429 asks to wait: Discord's JSON `retry_after` (seconds, with decimals) else its
 * Retry-After header; Slack's and Mattermost's Retry-After header (seconds). Undefined: nothing said.
 */
function rateLimitWaitMs(format: ChatWebhookFormat, headers: Headers, text: string): number | undefined {
  if (format === "discord") {
    try {
      const v = JSON.parse(text) as { retry_after?: unknown };
      if (typeof v.retry_after === "number" && Number.isFinite(v.retry_after) && v.retry_after >= 0) return Math.ceil(v.retry_after * 1000);
    } catch {
      // no JSON body: the header says
    }
  }
  return retryAfterHeaderMs(headers.get("retry-after"));
}

function fetchWhy(e: Error, timeoutMs: number): string {
  if (e.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  if (e.name === "AbortError") return "the subscriber was closed";
  const cause = e.cause as (Error & { code?: string }) | undefined;
  return cause?.code ?? cause?.message ?? e.message;
}

function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}
