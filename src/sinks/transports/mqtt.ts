import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { UnrecoverableError } from "bullmq";
import { connect, type IClientPublishOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { SinkMessage, Transport } from "../transport.js";
import { MQTT_DEFAULT_TOPIC, mqttTopic, mqttTopicProblem, mqttUrlProblem, type MqttSink } from "./mqtt-options.js";
import { brokerLogin, shownUrl } from "./secret-env.js";

export { MQTT_DEFAULT_TOPIC, MqttOptions, mqttLevel, mqttTopic, mqttTopicProblem, mqttUrlProblem, type MqttSink } from "./mqtt-options.js";

/**
 * MQTT subscribers: each event is one PUBLISH at QoS 1, mapped as the CloudEvents MQTT protocol
 * binding (1.0.2) says. Binary mode (MQTT 5): the CDEvent is the payload, `datacontenttype` the
 * Content Type property, every context attribute a User Property under its own name (`id`,
 * `source`, `type`, ... unprefixed: the binding's names, unlike HTTP's `ce-id`). Structured mode:
 * the whole CloudEvent as JSON is the payload, over MQTT 3.1.1 (see `structured` below).
 */

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A publisher to one MQTT subscriber. The connection is opened on the first publish and kept;
 * mqtt.js reconnects it by itself. `publish` resolves on the broker's PUBACK and rejects within
 * `timeoutMs` otherwise (not connected, no PUBACK), so the sinks queue retries with backoff.
 *
 * The client id is `openci-relay-<id>-<random>`: one per transport, kept across reconnects, and
 * never shared by two relay processes publishing to the same subscriber (a broker disconnects the
 * older of two connections with one client id, and they would take turns kicking each other off).
 * The session is clean: the queue, not the broker, holds what is still to be sent.
 */
export function mqttTransport(sink: MqttSink, env: NodeJS.ProcessEnv, log: Logger, o: { timeoutMs?: number } = {}): Transport {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const template = sink.topic ?? MQTT_DEFAULT_TOPIC;
  const structured = sink.structured ?? false;
  const clientId = `openci-relay-${sink.id}-${randomBytes(4).toString("hex")}`;
  const where = `MQTT subscriber '${sink.id}' (${shownUrl(sink.url)})`;
  const sinkLog = log.child({ sink: sink.id });

  let client: MqttClient | undefined;
  /** the last connection problem, for the error of a publish that could not be sent */
  let lastProblem: string | undefined;
  /** publishes waiting for a connection: told when it is up, or refused for good */
  const waiting = new Set<(refusal?: Error) => void>();
  /** publishes waiting for their PUBACK: told when the connection closes under them */
  const inFlight = new Set<() => void>();

  const open = (): MqttClient => {
    if (client) return client;
    const urlProblem = mqttUrlProblem(sink.url);
    if (urlProblem) throw new UnrecoverableError(`${where}: ${urlProblem}`);
    const topicProblem = mqttTopicProblem(template);
    if (topicProblem) throw new UnrecoverableError(`${where}: ${topicProblem}`);
    const url = new URL(sink.url);
    const tls = url.protocol === "mqtts:";
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const c = connect({
      protocol: tls ? "mqtts" : "mqtt",
      host,
      port: url.port === "" ? (tls ? 8883 : 1883) : Number(url.port),
      ...(tls && isIP(host) === 0 ? { servername: host } : {}),
      // CloudEvents: binary mode exists only in MQTT 5; structured is the MQTT 3.1.1 mapping (protocol level 4)
      protocolVersion: structured ? 4 : 5,
      clientId,
      clean: true,
      connectTimeout: timeoutMs,
      reconnectPeriod: 1000,
      resubscribe: false,
      ...credentials(sink, env, where),
    });
    client = c;
    lastProblem = undefined;
    let wasConnected = false;
    c.on("connect", () => {
      lastProblem = undefined;
      wasConnected = true;
      sinkLog.info({ clientId, protocol: structured ? "3.1.1" : "5" }, "connected to the MQTT broker");
      for (const tell of [...waiting]) tell();
    });
    c.on("close", () => {
      if (wasConnected) sinkLog.warn("connection to the MQTT broker lost; reconnecting");
      wasConnected = false;
      for (const tell of [...inFlight]) tell();
    });
    c.on("error", (err: Error & { code?: unknown }) => {
      if (typeof err.code === "number") {
        // CONNACK refused (not authorised, bad client id, ...): mqtt.js stops there. The client is
        // dropped; the next publish (the queue's retry) opens a new connection, once.
        const refusal = new Error(`${where}: the broker refused the connection: ${err.message}${refusalHint(err.code, sink)}`);
        sinkLog.warn({ code: err.code }, refusal.message);
        lastProblem = refusal.message;
        if (client === c) client = undefined;
        c.end(true);
        for (const tell of [...waiting]) tell(refusal);
        return;
      }
      if (err.message !== lastProblem) sinkLog.warn({ err: err.message }, "MQTT connection problem");
      lastProblem = err.message;
    });
    return c;
  };

  /** Resolves once `c` is connected; rejects at the deadline or when the broker refuses it. */
  const connected = (c: MqttClient, deadline: number): Promise<void> => {
    if (c.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const tell = (refusal?: Error) => {
        clearTimeout(timer);
        waiting.delete(tell);
        if (refusal) reject(refusal);
        else resolve();
      };
      const timer = setTimeout(() => {
        tell(new Error(`${where}: not connected to the broker within ${timeoutMs} ms${lastProblem ? ` (${lastProblem})` : ""}; the event will be retried`));
      }, Math.max(0, deadline - Date.now()));
      waiting.add(tell);
    });
  };

  /** Publishes at QoS 1; resolves on the PUBACK, rejects on a failing PUBACK, a closed connection or the deadline. */
  const acked = (c: MqttClient, topic: string, payload: string, opts: IClientPublishOptions, deadline: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        inFlight.delete(onClose);
        if (error) reject(error);
        else resolve();
      };
      const done = (err?: Error) => finish(err ? new Error(`${where}: publishing to '${topic}' failed: ${err.message}`) : undefined);
      // Once the queue has been told "failed", mqtt.js must not send the message again by itself
      // after a reconnect (it replays unacknowledged publishes): the queue's retry sends it.
      const forget = () => {
        const id = Object.entries(c.outgoing).find(([, pending]) => pending?.cb === done)?.[0];
        if (id !== undefined) c.removeOutgoingMessage(Number(id));
      };
      // (finish first: mqtt.js calls `done` with "Message removed" as it forgets)
      const onClose = () => {
        finish(new Error(`${where}: the connection closed before the broker acknowledged '${topic}'; the event will be retried`));
        forget();
      };
      const timer = setTimeout(() => {
        finish(new Error(`${where}: the broker did not acknowledge '${topic}' within ${timeoutMs} ms; the event will be retried`));
        forget();
      }, Math.max(0, deadline - Date.now()));
      inFlight.add(onClose);
      c.publish(topic, payload, opts, done);
    });

  const send = async (message: SinkMessage): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const c = open();
    await connected(c, deadline);
    const topic = mqttTopic(template, message);
    if (structured) {
      // MQTT 3.1.1 has no properties: application/cloudevents+json is implied (binding 3.2.1)
      await acked(c, topic, message.structured, { qos: 1 }, deadline);
    } else {
      const contentType = message.attributes.datacontenttype ?? "application/json";
      await acked(c, topic, message.body, {
        qos: 1,
        properties: {
          contentType,
          payloadFormatIndicator: true, // the payload is UTF-8 (JSON text)
          userProperties: { ...message.attributes, datacontenttype: contentType },
        },
      }, deadline);
    }
    sinkLog.debug({ cid: message.cid, topic }, "event published");
  };
  /** every publish under way, so `close` can let them finish (each within its deadline) */
  const underWay = new Set<Promise<void>>();

  return {
    publish(message: SinkMessage): Promise<void> {
      const sending = send(message);
      const settled = sending.then(() => undefined, () => undefined);
      underWay.add(settled);
      void settled.then(() => underWay.delete(settled));
      return sending;
    },
    async close(): Promise<void> {
      const c = client;
      client = undefined;
      if (!c) return;
      const closing = new Error(`${where}: the transport was closed before it was connected; the event will be retried`);
      for (const tell of [...waiting]) tell(closing);
      // PUBACKs still due arrive, or their publish gives up at its deadline (and is forgotten by mqtt.js):
      // then nothing is outgoing and end() sends DISCONNECT at once.
      await Promise.all([...underWay]);
      // A broker that is partitioned or stopped never closes the socket: end(true) after the timeout.
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        new Promise<boolean>((resolve) => c.end(false, () => resolve(true))),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (!ended) c.end(true);
    },
  };
}

/** The user name and password from the variables the subscriber names; MQTT allows a user name without a password, not the reverse. */
function credentials(sink: MqttSink, env: NodeJS.ProcessEnv, where: string): { username?: string; password?: string } {
  const login = brokerLogin(sink, env, where);
  if (login.password !== undefined && login.username === undefined) {
    throw new UnrecoverableError(`${where}: password_env is given without username_env: MQTT sends a password only with a user name; add username_env, e.g. "username_env": "FIREHOSE_USER"`);
  }
  return login;
}

/** What to check when a broker refuses the connection, by CONNACK code (MQTT 3.1.1 and 5). */
function refusalHint(code: number, sink: MqttSink): string {
  const named = [sink.username_env, sink.password_env].filter(Boolean).join(" and ");
  if (code === 4 || code === 5 || code === 134 || code === 135) {
    return named ? ` (check the user name and password in ${named}, and that this user may connect)` : " (the broker wants a user name and password: set username_env and password_env)";
  }
  if (code === 2 || code === 133) return ` (the client id openci-relay-${sink.id}-<8 hex digits> is too long for this broker: give the subscriber a shorter id)`;
  if (code === 1 || code === 132) return sink.structured ? " (the broker does not speak MQTT 3.1.1)" : " (the broker does not speak MQTT 5: set structured: true to publish over MQTT 3.1.1)";
  return "";
}
