import { z } from "zod";
import { fillTopic, type SinkMessage } from "../transport.js";
import { brokerEnvName } from "./secret-env.js";

/**
 * What an MQTT subscriber entry may say, checked without the MQTT client (src/sinks/transports/mqtt.ts,
 * loaded only by a process that publishes to one): its options, its url, its topic template.
 */

export const MQTT_DEFAULT_TOPIC = "openci/{foundation}/{project}/{event}";

const TOPIC_EXAMPLE = `e.g. ${MQTT_DEFAULT_TOPIC}`;
/** MQTT allows 65,535 bytes; a template longer than this is a mistake, not a topic. */
const TOPIC_MAX = 1024;

/** Why a topic template cannot be published to, or undefined. */
export function mqttTopicProblem(template: string): string | undefined {
  if (template === "") return `the topic template is empty: write one, ${TOPIC_EXAMPLE}`;
  if (template.length > TOPIC_MAX) return `the topic template is longer than ${TOPIC_MAX} characters: shorten it, ${TOPIC_EXAMPLE}`;
  if (/[+#]/.test(template)) return `the topic template '${template}' has '+' or '#': those are MQTT wildcards, for subscribing only; publish to a topic without them, ${TOPIC_EXAMPLE}`;
  if (template.split("/").some((level) => level === "")) {
    return `the topic template '${template}' has an empty level (a leading or trailing '/', or '//'): give every level a name, ${TOPIC_EXAMPLE}`;
  }
  if (template.startsWith("$")) return `the topic template '${template}' starts with '$': such topics are the broker's own ($SYS); start with your own name, ${TOPIC_EXAMPLE}`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(template)) return `the topic template has a control character: remove it, ${TOPIC_EXAMPLE}`;
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((name) => !["foundation", "project", "event"].includes(name ?? ""));
  if (unknown.length > 0) {
    return `the topic template names {${unknown[0]}}: only {foundation}, {project} and {event} can be filled in, ${TOPIC_EXAMPLE}`;
  }
  if (/[{}]/.test(template.replace(/\{(foundation|project|event)\}/g, ""))) {
    return `the topic template '${template}' has a '{' or '}' that is not part of {foundation}, {project} or {event}: remove it, ${TOPIC_EXAMPLE}`;
  }
  return undefined;
}

/**
 * An MQTT subscriber's options besides id/url/events/projects/attempts/private (merged into the
 * subscriber schema). Credentials are only ever named (`*_env`): the map is public, a URL is logged.
 * Defaults are applied by the transport, not here, so a parsed subscriber reads as it was written.
 */
export const MqttOptions = z.strictObject({
  topic: z.string()
    .superRefine((template, ctx) => {
      const problem = mqttTopicProblem(template);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .describe(`The topic each event is published to (QoS 1). {foundation} (_ when none), {project} and {event} (e.g. pipelinerun.finished) are filled in; a name never adds a level or a wildcard: '/', '+', '#' and control characters in it become '_'. Default ${MQTT_DEFAULT_TOPIC}.`),
  structured: z.boolean()
    .optional()
    .describe("CloudEvents structured mode: the whole CloudEvent as one JSON payload, sent over MQTT 3.1.1, which every broker and client speaks. Default false: binary mode over MQTT 5 (the CDEvent as payload, its CloudEvents attributes as user properties)."),
  username_env: brokerEnvName("user name", "FIREHOSE_USER").optional()
    .describe("The environment variable holding the user name the relay connects with."),
  password_env: brokerEnvName("password", "FIREHOSE_PASSWORD").optional()
    .describe("The environment variable holding the password the relay connects with (needs username_env)."),
});
export type MqttOptions = z.infer<typeof MqttOptions>;

/** A subscriber as the transport takes it. */
export type MqttSink = { id: string; url: string } & MqttOptions;

/** Why an MQTT subscriber's url cannot be used, or undefined. */
export function mqttUrlProblem(url: string): string | undefined {
  const example = "e.g. mqtt://broker.example:1883 or mqtts://broker.example";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `the url is not a URL: write the broker's address, ${example}`;
  }
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "mqtts:") return `the url must start with mqtt:// or mqtts:// (TLS), not ${parsed.protocol}//: ${example}`;
  if (parsed.username !== "" || parsed.password !== "") {
    return `the url has a user name or password in it: remove them and name the variables holding them with username_env and password_env, ${example}`;
  }
  if (parsed.hostname === "") return `the url has no host: ${example}`;
  if (parsed.pathname !== "" && parsed.pathname !== "/") return `the url has a path (${parsed.pathname}): the topic goes in the topic option, not the url; ${example}`;
  if (parsed.search !== "" || parsed.hash !== "") return `the url has a query or fragment: remove it, ${example}`;
  return undefined;
}

/**
 * One topic level from a name: `/` (a level separator), `+` and `#` (wildcards), NUL, control
 * characters and lone surrogates (not UTF-8) become `_`, and an empty name is `_`: a project id can
 * never add a level, be a wildcard or empty a level.
 */
export function mqttLevel(name: string): string {
  const level = name.replace(/[/+#\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "_");
  return level === "" ? "_" : level;
}

/** The topic one message is published to. A filled topic starting with `$` (the broker's own) starts with `_` instead. */
export function mqttTopic(template: string, message: Pick<SinkMessage, "names">): string {
  return fillTopic(template, message.names, mqttLevel).replace(/^\$/, "_");
}
