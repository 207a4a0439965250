import { z } from "zod";
import { isRelayOwnVariable } from "../../map/secret-names.js";
import { ENV_NAME } from "./secret-env.js";

/**
 * What a NATS subscriber entry may say, checked without the NATS client (src/sinks/transports/nats.ts,
 * loaded only by a process that publishes to one): its options, its url, its subject template.
 */

export const NATS_DEFAULT_SUBJECT = "openci.{foundation}.{project}.{event}";
export const NATS_DEFAULT_STREAM = "OPENCI";
const PLACEHOLDERS = ["foundation", "project", "event"];
const SUBJECT_EXAMPLE = `e.g. ${NATS_DEFAULT_SUBJECT}`;

/** Why `template` cannot be a subject template, or undefined. */
export function subjectTemplateProblem(template: string): string | undefined {
  if (template === "") return `must not be empty, ${SUBJECT_EXAMPLE}`;
  if (/[\s\p{Cc}]/u.test(template)) return `must not contain white space or control characters, ${SUBJECT_EXAMPLE}`;
  if (/[*>]/.test(template)) return `must not contain the wildcards '*' or '>' (they are for subscribing; the relay publishes to one subject), ${SUBJECT_EXAMPLE}`;
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((name) => !PLACEHOLDERS.includes(name));
  if (unknown.length > 0) return `names {${unknown[0]}}; the only names are {foundation}, {project} and {event}, ${SUBJECT_EXAMPLE}`;
  if (/[{}]/.test(template.replace(/\{(foundation|project|event)\}/g, ""))) return `has an unmatched '{' or '}', ${SUBJECT_EXAMPLE}`;
  const tokens = template.split(".");
  if (tokens.some((t) => t === "")) return `has an empty token (a leading, trailing or doubled '.'), ${SUBJECT_EXAMPLE}`;
  if (tokens.length < 2) return `needs at least two tokens: a fixed first one and then the event's names, ${SUBJECT_EXAMPLE}`;
  const first = tokens[0]!;
  if (first.includes("{") || first.startsWith("$")) {
    return `must start with a fixed token (not a {name}, not a '$' system subject): the relay's stream captures '<first token>.>', ${SUBJECT_EXAMPLE}`;
  }
  return undefined;
}

const EnvName = (what: string, example: string) =>
  z.string()
    .regex(ENV_NAME, `must name an environment variable (upper-case letters, digits and '_'), e.g. ${example}`)
    .refine((name) => !isRelayOwnVariable(name), { error: `names the relay's own configuration: put the ${what} in a variable of its own, e.g. ${example}` })
    .optional();

/** Why these credentials options cannot go together, or undefined (also checked by natsTransport, for a schema merged by its shape). */
export function natsCredentialsProblem(o: { token_env?: string | undefined; username_env?: string | undefined; password_env?: string | undefined }): string | undefined {
  const user = o.username_env !== undefined || o.password_env !== undefined;
  if (o.token_env !== undefined && user) return "give either token_env or username_env and password_env, not both: e.g. token_env: BUS_TOKEN";
  if (user && (o.username_env === undefined || o.password_env === undefined)) return "username_env and password_env go together: e.g. username_env: BUS_USER, password_env: BUS_PASSWORD";
  return undefined;
}

/** A NATS subscriber's options besides id, url, events, projects, attempts and private. */
export const NatsOptions = z.strictObject({
  subject: z.string()
    .superRefine((template, ctx) => {
      const problem = subjectTemplateProblem(template);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .describe(`The subject each event is published to (default ${NATS_DEFAULT_SUBJECT}): fixed tokens and {foundation}, {project} and {event}; '.', '*', '>' and white space in a name become '_'.`),
  stream: z.string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a JetStream stream name (letters, digits, '-' and '_', at most 64), e.g. OPENCI")
    .optional()
    .describe(`The JetStream stream created when none captures the subject (default ${NATS_DEFAULT_STREAM}), with subjects '<first token>.>', file storage and a one-hour duplicate window. An existing stream is left as it is.`),
  token_env: EnvName("token", "BUS_TOKEN").describe("The variable holding the NATS token to connect with."),
  username_env: EnvName("user name", "BUS_USER").describe("The variable holding the NATS user name to connect with (with password_env)."),
  password_env: EnvName("password", "BUS_PASSWORD").describe("The variable holding the NATS password to connect with (with username_env)."),
}).superRefine((o, ctx) => {
  const problem = natsCredentialsProblem(o);
  if (problem) ctx.addIssue({ code: "custom", message: problem, path: [o.token_env !== undefined ? "token_env" : "username_env"] });
});
export type NatsOptions = z.infer<typeof NatsOptions>;

/**
 * Why `url` cannot be a NATS subscriber's url, or undefined. `nats://host[:port]` (port 4222 by
 * default) upgrades to TLS when the server offers it, as @nats-io/transport-node does;
 * `tls://host[:port]` insists on TLS (the connection fails if the server has none). Certificates
 * are checked against Node's CAs (NODE_EXTRA_CA_CERTS adds a private one). Credentials never go in
 * the url: they come from the variables token_env or username_env and password_env name.
 */
export function natsUrlProblem(url: string): string | undefined {
  const example = "e.g. nats://nats.example:4222";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `a NATS subscriber's url must be nats://host[:port] or tls://host[:port], ${example}`;
  }
  if (parsed.protocol !== "nats:" && parsed.protocol !== "tls:") {
    return `a NATS subscriber's url must start with nats:// (TLS when the server offers it) or tls:// (TLS required), ${example}`;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return `a NATS subscriber's url must not hold credentials: put them in environment variables and name them with token_env (or username_env and password_env), ${example}`;
  }
  if (parsed.hostname === "") return `a NATS subscriber's url needs a host, ${example}`;
  if ((parsed.pathname !== "" && parsed.pathname !== "/") || parsed.search !== "" || parsed.hash !== "") {
    return `a NATS subscriber's url is only a scheme, host and port (no path, query or fragment; the subject is the subject option), ${example}`;
  }
  return undefined;
}

/** One level of a subject: what could add a token or a wildcard becomes '_' (never empty). */
export function sanitizeNatsToken(level: string): string {
  const safe = level.replace(/[.*>\s\p{Cc}]/gu, "_");
  return safe === "" ? "_" : safe;
}

export type NatsSink = { id: string; url: string } & NatsOptions;
