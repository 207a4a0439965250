import type { Logger } from "pino";
import { isRelayOwnVariable } from "../map/secret-names.js";
import type { Sink } from "./sinks.js";
import type { ChatTransport, Transport } from "./transport.js";
import { AmqpOptions, amqpTransport } from "./transports/amqp.js";
import { chatWebhookTransport } from "./transports/chat-webhook.js";
import { IrcOptions, ircTransport } from "./transports/irc.js";
import { matrixTransport } from "./transports/matrix.js";
import { MqttOptions, mqttTransport } from "./transports/mqtt.js";
import { NatsOptions, natsTransport } from "./transports/nats.js";

type Closable = Transport | ChatTransport;
const pick = (spec: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => spec[k] !== undefined).map((k) => [k, spec[k]]));

/**
 * The connections to broker and chat subscribers, one per subscriber, kept between deliveries (an
 * MQTT session, a NATS connection, an AMQP channel, an IRC presence in its channel). A subscriber whose
 * entry changed (a new map, OPENCI_SINKS) gets a new connection and its old one is closed.
 * Transports see the environment less the relay's own variables: a subscriber can never be handed
 * the app's key or the Redis password, whatever variable its entry names.
 */
export class TransportPool {
  private readonly open = new Map<string, { fingerprint: string; transport: Closable }>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv, private readonly log: Logger) {
    this.env = Object.fromEntries(Object.entries(env).filter(([name]) => !isRelayOwnVariable(name)));
  }

  /** The connection for a broker subscriber (mqtt, nats, amqp). */
  broker(sink: Sink): Transport {
    return this.get(sink, () => {
      const base = { id: sink.id, url: sink.url };
      const spec = sink.spec as Record<string, unknown>;
      const log = this.log.child({ sink: sink.id });
      switch (sink.kind) {
        case "mqtt": return mqttTransport({ ...base, ...MqttOptions.parse(pick(spec, Object.keys(MqttOptions.shape))) }, this.env, log);
        case "nats": return natsTransport({ ...base, ...NatsOptions.parse(pick(spec, Object.keys(NatsOptions.shape))) }, this.env, log);
        case "amqp": return amqpTransport({ ...base, ...AmqpOptions.parse(pick(spec, Object.keys(AmqpOptions.shape))) }, this.env, log);
        default: throw new Error(`subscriber '${sink.id}' is a ${sink.kind} subscriber, not a broker`);
      }
    }) as Transport;
  }

  /** The connection for a chat subscriber (irc, matrix, a webhook). */
  chat(sink: Sink): ChatTransport {
    return this.get(sink, () => {
      const spec = sink.spec;
      const log = this.log.child({ sink: sink.id });
      switch (sink.kind) {
        case "irc": return ircTransport({ id: sink.id, url: sink.url, ...IrcOptions.parse(pick(spec as Record<string, unknown>, Object.keys(IrcOptions.shape))) }, this.env, log);
        case "matrix": return matrixTransport({ id: sink.id, matrix: spec.matrix! }, this.env, log);
        case "webhook": return chatWebhookTransport({ id: sink.id, format: spec.format!, ...(spec.url ? { url: spec.url } : {}), ...(spec.url_env ? { url_env: spec.url_env } : {}) }, this.env, log);
        default: throw new Error(`subscriber '${sink.id}' is a ${sink.kind} subscriber, not a chat`);
      }
    }) as ChatTransport;
  }

  /** Closes every connection (the worker is stopping). */
  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(({ transport }) => transport.close().catch(() => undefined)));
  }

  /** Closes the connections of subscribers no longer configured (removed from the map or OPENCI_SINKS). */
  prune(configured: ReadonlySet<string>): void {
    for (const [id, held] of this.open) {
      if (configured.has(id)) continue;
      this.open.delete(id);
      this.log.info({ sink: id }, "subscriber removed: its connection is closed");
      void held.transport.close().catch(() => undefined);
    }
  }

  private get(sink: Sink, create: () => Closable): Closable {
    // Only what the connection depends on: a new events: or projects: filter keeps it.
    const { events: _e, projects: _p, attempts: _a, private: _v, ...connection } = sink.spec;
    const fingerprint = JSON.stringify(connection);
    const held = this.open.get(sink.id);
    if (held?.fingerprint === fingerprint) return held.transport;
    if (held) {
      this.log.info({ sink: sink.id }, "subscriber's entry changed: its connection is opened again");
      void held.transport.close().catch(() => undefined);
    }
    const transport = create();
    this.open.set(sink.id, { fingerprint, transport });
    return transport;
  }
}
