import { z } from "zod";
import { CDEVENT_TYPES, type CDEventType } from "../history/cdevent.js";
import { isLoopback } from "../artifacts/purl.js";
import { isRelayOwnVariable } from "../map/secret-names.js";
import { CHAT_EVENTS } from "./chat/chat-lines.js";
// Only the options of the broker and IRC transports: their client libraries load when a process first sends to such a subscriber (transport-pool.ts).
import { AmqpOptions, amqpUrlProblem } from "./transports/amqp-options.js";
import { ChatWebhookOptions } from "./transports/chat-webhook.js";
import { IrcOptions, ircUrlProblem } from "./transports/irc-options.js";
import { MatrixOptions } from "./transports/matrix.js";
import { MqttOptions, mqttUrlProblem } from "./transports/mqtt-options.js";
import { natsCredentialsProblem, NatsOptions, natsUrlProblem } from "./transports/nats-options.js";

const ALL_TYPES = Object.values(CDEVENT_TYPES) as CDEventType[];
/** "pipelinerun.finished" for dev.cdevents.pipelinerun.finished.0.3.0, "openci-gate.decided" for the custom ones. */
export const SHORT_TYPES = ALL_TYPES.map(shortType);

export function shortType(type: string): string {
  return type.replace(/^dev\.cdevents(x)?\./, "").replace(/\.\d+\.\d+\.\d+$/, "");
}

/**
 * How a subscriber is reached, from what its entry says: `matrix:` a Matrix room, `format:` a chat
 * webhook (Slack, Mattermost, Discord), else the scheme of its `url`.
 */
export type SinkKind = "http" | "mqtt" | "nats" | "amqp" | "irc" | "matrix" | "webhook";
/** The kinds that receive one message per CDEvent; the others are chats, told in lines for people. */
export const BROKER_KINDS: ReadonlySet<SinkKind> = new Set(["mqtt", "nats", "amqp"]);
export const CHAT_KINDS: ReadonlySet<SinkKind> = new Set(["irc", "matrix", "webhook"]);

const SCHEMES: Record<string, SinkKind> = { http: "http", https: "http", mqtt: "mqtt", mqtts: "mqtt", nats: "nats", tls: "nats", amqp: "amqp", amqps: "amqp", irc: "irc", ircs: "irc" };
const URL_PROBLEM: Partial<Record<SinkKind, (url: string) => string | undefined>> = {
  mqtt: mqttUrlProblem, nats: natsUrlProblem, amqp: amqpUrlProblem, irc: ircUrlProblem,
};

export function sinkKind(s: { url?: string | undefined; matrix?: unknown; format?: unknown }): SinkKind | undefined {
  if (s.matrix !== undefined) return "matrix";
  if (s.format !== undefined) return "webhook";
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s.url ?? "")?.[1]?.toLowerCase();
  return scheme === undefined ? undefined : SCHEMES[scheme];
}

/** An option's schema without its default: defaults are the transport's, applied only to its own kind. */
function optional(schema: z.ZodType): z.ZodType {
  const inner = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : schema;
  const described = schema.description ?? inner.description;
  const out = inner instanceof z.ZodOptional ? inner : inner.optional();
  return described ? out.describe(described) : out;
}
/** A transport's options as optional fields of the subscriber entry, typed as their values. */
type Loose<S extends z.ZodRawShape> = { [K in keyof S]: z.ZodOptional<z.ZodType<Exclude<z.output<S[K]>, undefined>>> };
const optionsOf = <S extends z.ZodRawShape>(o: z.ZodObject<S>): Loose<S> =>
  Object.fromEntries(Object.entries(o.shape).map(([k, v]) => [k, optional(v as z.ZodType)])) as Loose<S>;

const EventName = z.enum([...SHORT_TYPES, ...ALL_TYPES, ...CHAT_EVENTS] as unknown as [string, ...string[]], {
  error: `must be one of ${SHORT_TYPES.join(", ")} (or their full CDEvents types); for a chat: ${CHAT_EVENTS.join(", ")}`,
});
const envName = (what: string) => z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must name an environment variable").describe(what);

/** The keys each kind takes besides the common ones. */
const KIND_KEYS: Record<SinkKind, readonly string[]> = {
  http: ["url", "secret_env", "secret"],
  mqtt: ["url", ...Object.keys(MqttOptions.shape)],
  nats: ["url", ...Object.keys(NatsOptions.shape)],
  amqp: ["url", ...Object.keys(AmqpOptions.shape)],
  irc: ["url", ...Object.keys(IrcOptions.shape)],
  matrix: ["matrix"],
  webhook: ["format", "url_env", "url"],
};
const EXAMPLES: Record<SinkKind, string> = {
  http: "{ id: ops, url: https://ops.example/cdevents, secret_env: OPS_SINK_SECRET }",
  mqtt: "{ id: firehose, url: mqtts://mqtt.example:8883 }",
  nats: "{ id: bus, url: nats://nats.example:4222 }",
  amqp: "{ id: bus, url: amqps://rabbit.example/%2F, exchange: openci }",
  irc: "{ id: channel, url: ircs://irc.oftc.net:6697/openinfra-events }",
  matrix: "{ id: room, matrix: { homeserver: https://matrix.org, room: '#openinfra:matrix.org', token_env: MATRIX_TOKEN } }",
  webhook: "{ id: releases, format: slack, url_env: SLACK_WEBHOOK_URL }",
};

const Fields = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lower-case letters, digits and '-', e.g. ops-dashboard"),
  url: z.string().optional().describe(
    "Where events go; its scheme says how: http(s):// a POST per event (CloudEvents binary mode, signed), mqtt(s)://, nats:// (tls://), amqp(s):// a message per event, irc(s)://host:port/channel a line per release for people.",
  ),
  secret_env: envName("http(s) subscribers: the variable holding the secret the deliveries are signed with (HMAC-SHA256).").optional(),
  events: z.array(EventName).min(1).optional().describe(
    `Which events to send (default all): ${SHORT_TYPES.join(", ")}. A chat (irc, matrix, format) takes ${CHAT_EVENTS.join(", ")} (default releases: one line when a release's downstreams have all ended).`,
  ),
  projects: z.array(z.string().min(1)).min(1).optional().describe("Only events about these projects (as upstream or downstream); default all."),
  attempts: z.number().int().min(1).max(50).optional().describe("Delivery attempts before an event is dead-lettered (default 10)."),
  private: z.boolean().optional()
    .describe("Also receive events about private projects (default false: only public ones). Only for a subscriber as trusted as the relay's read token."),
  ...optionsOf(MqttOptions),
  ...optionsOf(NatsOptions),
  ...optionsOf(AmqpOptions),
  ...optionsOf(IrcOptions),
  matrix: MatrixOptions.optional().describe("A Matrix room the relay's lines go to (m.notice), instead of a url."),
  ...optionsOf(ChatWebhookOptions),
};

/** The problems of one entry that its schema cannot say: which kind it is, and which keys that kind takes. */
function kindProblems(s: Record<string, unknown>, ctx: z.RefinementCtx, fromEnv: boolean): void {
  const kind = sinkKind(s as { url?: string });
  const issue = (message: string, path: string[] = []) => ctx.addIssue({ code: "custom", message, path });
  if (kind === undefined) {
    issue(s.url === undefined
      ? "needs a url (http(s)://, mqtt(s)://, nats://, amqp(s)://, irc(s)://), or matrix: or format: for a chat"
      : `must be an http(s)://, mqtt(s)://, nats://, amqp(s)://, or irc(s):// URL (a Matrix room is written matrix:, a Slack/Mattermost/Discord webhook format: with url_env), e.g. ${EXAMPLES.http}`, s.url === undefined ? [] : ["url"]);
    return;
  }
  const allowed = new Set(["id", "events", "projects", "attempts", "private", ...KIND_KEYS[kind]]);
  for (const k of Object.keys(s)) {
    if (s[k] === undefined || allowed.has(k)) continue;
    const owners = (Object.keys(KIND_KEYS) as SinkKind[]).filter((o) => KIND_KEYS[o].includes(k));
    issue(`is not an option of a ${kind} subscriber${owners.length ? ` (it is for ${owners.join(", ")} ones)` : ""}: remove it; e.g. ${EXAMPLES[kind]}`, [k]);
  }
  const chat = CHAT_KINDS.has(kind);
  (s.events as string[] | undefined)?.forEach((e, i) => {
    if ((CHAT_EVENTS as readonly string[]).includes(e) !== chat) {
      issue(chat ? `a chat is told ${CHAT_EVENTS.join(" and ")}, not single CDEvents: write events: [${CHAT_EVENTS.join(", ")}]` : `'${e}' is for chats (irc, matrix, format): a ${kind} subscriber takes CDEvent types such as pipelinerun.finished`, ["events", String(i)]);
    }
  });
  if (kind === "http") {
    const url = s.url as string;
    if (!z.url({ protocol: /^https?$/ }).safeParse(url).success) issue("must be an http(s) URL", ["url"]);
    if (!fromEnv && s.secret_env === undefined) issue("is required: name the variable holding the subscriber's secret (secrets are never written in the map)", ["secret_env"]);
    if (fromEnv && (s.secret === undefined) === (s.secret_env === undefined)) issue("needs exactly one of secret and secret_env: deliveries are always signed");
  } else if (kind === "webhook") {
    if (!fromEnv && s.url !== undefined) issue("is a secret (whoever has it can post): name it with url_env, never in the map", ["url"]);
    if (fromEnv && s.url !== undefined && !z.url({ protocol: /^https$/ }).safeParse(s.url).success) issue("must be the webhook's https URL", ["url"]);
    if ((s.url === undefined) === (s.url_env === undefined)) issue(fromEnv ? "needs exactly one of url and url_env" : "needs url_env: the variable holding the webhook's URL", fromEnv ? [] : ["url_env"]);
  } else if (kind !== "matrix") {
    const problem = URL_PROBLEM[kind]?.(s.url as string);
    if (problem) issue(problem, ["url"]);
  }
  if (kind === "irc" && s.sasl === true && s.password_env === undefined) issue("needs password_env: SASL PLAIN logs in with the nick and that password", ["sasl"]);
  if (kind === "irc" && s.password_env !== undefined && /^irc:/i.test(String(s.url)) && !isLoopback(URL.parse(String(s.url))?.hostname ?? "")) {
    issue("is sent in clear text over irc://: use ircs:// (TLS, e.g. ircs://irc.oftc.net:6697/channel) for a subscriber with a password", ["password_env"]);
  }
  if (kind === "mqtt" && s.password_env !== undefined && s.username_env === undefined) issue("needs username_env: MQTT sends a password only with a user name", ["password_env"]);
  if (kind === "amqp" && (s.username_env === undefined) !== (s.password_env === undefined)) {
    issue("username_env and password_env go together: AMQP's PLAIN login takes both", [s.username_env === undefined ? "password_env" : "username_env"]);
  }
  if (kind === "nats") {
    const problem = natsCredentialsProblem(s as NatsOptions);
    if (problem) issue(problem, [s.token_env !== undefined ? "token_env" : "username_env"]);
  }
  // In the map the secret-name checks say it (check-references.ts, with OPENCI_MAP_SECRETS); OPENCI_SINKS is checked here.
  if (fromEnv) for (const [k, v] of envNames(s)) {
    if (isRelayOwnVariable(v)) issue(`names ${v}, the relay's own configuration: give the subscriber a secret of its own`, k.split("."));
  }
}

/** Every environment variable an entry names (`*_env`, also inside `matrix:`), with its key. */
export function envNames(s: Record<string, unknown>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(s)) {
    if (k.endsWith("_env") && typeof v === "string") out.push([k, v]);
    if (k === "matrix" && v && typeof v === "object") {
      for (const [mk, mv] of Object.entries(v)) if (mk.endsWith("_env") && typeof mv === "string") out.push([`matrix.${mk}`, mv]);
    }
  }
  return out;
}

/**
 * A subscriber: where the relay's events go, by the scheme of its `url` (HTTP, MQTT, NATS, AMQP,
 * IRC) or by `matrix:` / `format:` for a chat. In the map only variables holding secrets may be
 * named (`*_env`); OPENCI_SINKS, being environment, may also hold an HTTP secret or a webhook URL itself.
 */
export const SinkSpec = z.strictObject(Fields).superRefine((s, ctx) => kindProblems(s, ctx, false));
export type SinkSpec = z.infer<typeof SinkSpec>;

export const EnvSinkSpec = z.strictObject({
  ...Fields,
  secret: z.string().min(16, "must be at least 16 characters").optional(),
}).superRefine((s, ctx) => kindProblems(s, ctx, true));
export type EnvSinkSpec = z.infer<typeof EnvSinkSpec>;

/** OPENCI_SINKS: a JSON array of sinks. Returns the sinks, or every problem in words. */
export function parseEnvSinks(text: string | undefined): { sinks: EnvSinkSpec[]; problems: string[] } {
  if (text === undefined || text.trim() === "") return { sinks: [], problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which may hold a secret: not repeated here.
    return { sinks: [], problems: [`OPENCI_SINKS is not JSON: write a JSON array such as [{"id":"ops","url":"https://ops.example/cdevents","secret_env":"OPS_SINK_SECRET"}]`] };
  }
  const parsed = z.array(EnvSinkSpec).safeParse(json);
  if (!parsed.success) {
    return { sinks: [], problems: parsed.error.issues.map((i) => `OPENCI_SINKS[${i.path.join(".")}] ${i.message}`) };
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  parsed.data.forEach((s, i) => {
    if (seen.has(s.id)) problems.push(`OPENCI_SINKS[${i}].id '${s.id}' is used twice: give each sink its own id`);
    seen.add(s.id);
  });
  return { sinks: parsed.data, problems };
}
