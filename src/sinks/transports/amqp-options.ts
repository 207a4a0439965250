import { z } from "zod";
import { fillTopic, type SinkMessage } from "../transport.js";
import { brokerEnvName } from "./secret-env.js";

/**
 * What an AMQP subscriber entry may say, checked without the AMQP client (src/sinks/transports/amqp.ts,
 * loaded only by a process that publishes to one): its options, its url, its routing key template.
 */

export const AMQP_DEFAULT_ROUTING_KEY = "openci.{foundation}.{project}.{event}";
export const AMQP_DEFAULT_EXCHANGE = "openci";

const KEY_EXAMPLE = `e.g. ${AMQP_DEFAULT_ROUTING_KEY}`;
/** AMQP short strings (exchange names, routing keys) are at most 255 bytes. */
export const SHORTSTR_MAX = 255;

/** Why a routing key template cannot be published with, or undefined. */
export function amqpRoutingKeyProblem(template: string): string | undefined {
  if (template === "") return `the routing key template is empty: write one, ${KEY_EXAMPLE}`;
  if (Buffer.byteLength(template) > SHORTSTR_MAX) return `the routing key template is longer than ${SHORTSTR_MAX} bytes (AMQP's limit): shorten it, ${KEY_EXAMPLE}`;
  if (/[*#]/.test(template)) return `the routing key template '${template}' has '*' or '#': those are wildcards of bindings, for consumers only; publish with a key without them, ${KEY_EXAMPLE}`;
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(template)) return `the routing key template has white space or a control character: remove it, ${KEY_EXAMPLE}`;
  if (template.split(".").some((word) => word === "")) {
    return `the routing key template '${template}' has an empty word (a leading or trailing '.', or '..'): give every word a name, ${KEY_EXAMPLE}`;
  }
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((name) => !["foundation", "project", "event"].includes(name ?? ""));
  if (unknown.length > 0) return `the routing key template names {${unknown[0]}}: only {foundation}, {project} and {event} can be filled in, ${KEY_EXAMPLE}`;
  if (/[{}]/.test(template.replace(/\{(foundation|project|event)\}/g, ""))) {
    return `the routing key template '${template}' has a '{' or '}' that is not part of {foundation}, {project} or {event}: remove it, ${KEY_EXAMPLE}`;
  }
  return undefined;
}

/**
 * An AMQP subscriber's options besides id/url/events/projects/attempts/private (merged into the
 * subscriber schema). Credentials are only ever named (`*_env`): the map is public, a URL is logged.
 */
export const AmqpOptions = z.strictObject({
  exchange: z.string()
    .min(1, `must name an exchange: the default exchange ('') routes by queue name, not by topic; e.g. ${AMQP_DEFAULT_EXCHANGE}`)
    .max(SHORTSTR_MAX, `must be at most ${SHORTSTR_MAX} characters (AMQP's limit), e.g. ${AMQP_DEFAULT_EXCHANGE}`)
    .regex(/^[A-Za-z0-9_.:-]+$/, `must be letters, digits, '-', '_', '.' and ':' (AMQP exchange names), e.g. ${AMQP_DEFAULT_EXCHANGE}`)
    .default(AMQP_DEFAULT_EXCHANGE)
    .describe(`The exchange each event is published to (default ${AMQP_DEFAULT_EXCHANGE}). One that exists is used as it is (any type: declare it yourself to choose); a missing one is declared by the relay as a durable topic exchange, which needs the user's configure permission on it.`),
  routing_key: z.string()
    .superRefine((template, ctx) => {
      const problem = amqpRoutingKeyProblem(template);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .default(AMQP_DEFAULT_ROUTING_KEY)
    .describe(`The routing key of each event. {foundation} (_ when none), {project} and {event} (e.g. pipelinerun.finished, so bind openci.*.*.pipelinerun.# for every pipeline run event) are filled in; a name never adds a word or a wildcard: '.', '*', '#', white space and control characters in it become '_'. Default ${AMQP_DEFAULT_ROUTING_KEY}.`),
  username_env: brokerEnvName("user name", "BUS_USER").optional()
    .describe("The environment variable holding the user name the relay connects with (default RabbitMQ's guest, which a broker accepts only from localhost)."),
  password_env: brokerEnvName("password", "BUS_PASSWORD").optional()
    .describe("The environment variable holding the password the relay connects with (needs username_env)."),
});
export type AmqpOptions = z.infer<typeof AmqpOptions>;

/** A subscriber as the transport takes it: options as written (defaults applied here) or as parsed. */
export type AmqpSink = { id: string; url: string } & z.input<typeof AmqpOptions>;

/** Why an AMQP subscriber's url cannot be used, or undefined. */
export function amqpUrlProblem(url: string): string | undefined {
  const example = "e.g. amqp://rabbit.example:5672/%2F or amqps://rabbit.example/%2F (the path is the vhost; %2F is the default vhost '/')";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `the url is not a URL: write the broker's address, ${example}`;
  }
  if (parsed.protocol !== "amqp:" && parsed.protocol !== "amqps:") return `the url must start with amqp:// or amqps:// (TLS), not ${parsed.protocol}//: ${example}`;
  if (parsed.username !== "" || parsed.password !== "") {
    return `the url has a user name or password in it: remove them and name the variables holding them with username_env and password_env, ${example}`;
  }
  if (parsed.hostname === "") return `the url has no host: ${example}`;
  if (parsed.pathname.split("/").length > 2) return `the url's path has more than one segment: it is the vhost, one segment with any '/' written as %2F, ${example}`;
  try {
    decodeURIComponent(parsed.pathname.slice(1));
  } catch {
    return `the url's vhost is not valid percent-encoding: ${example}`;
  }
  if (parsed.search !== "" || parsed.hash !== "") return `the url has a query or fragment: remove it, ${example}`;
  return undefined;
}

/**
 * One word of a routing key from a name: `.` (the word separator), `*` and `#` (binding
 * wildcards), white space and control characters become `_`, and an empty name is `_`: a project
 * id can never add a word, be a wildcard or empty a word.
 */
export function amqpWord(name: string): string {
  // eslint-disable-next-line no-control-regex
  const word = name.replace(/[.*#\s\u0000-\u001f\u007f-\u009f]/g, "_");
  return word === "" ? "_" : word;
}

/** The routing key one message is published with. */
export function amqpRoutingKey(template: string, message: Pick<SinkMessage, "names">): string {
  return fillTopic(template, message.names, amqpWord);
}
