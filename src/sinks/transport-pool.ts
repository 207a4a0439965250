import type { Logger } from "pino";
import { isRelayOwnVariable } from "../map/secret-names.js";
import type { SinkKind } from "./sink-spec.js";
import type { Sink } from "./sinks.js";
import type { ChatLine, ChatTransport, SinkMessage, Transport } from "./transport.js";
import { AmqpOptions } from "./transports/amqp-options.js";
import { chatWebhookTransport } from "./transports/chat-webhook.js";
import { IrcOptions } from "./transports/irc-options.js";
import { matrixTransport } from "./transports/matrix.js";
import { MqttOptions } from "./transports/mqtt-options.js";
import { NatsOptions } from "./transports/nats-options.js";

type Closable = Transport | ChatTransport;
const pick = (spec: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => spec[k] !== undefined).map((k) => [k, spec[k]]));

/**
 * The transports built on a client library, each loaded the first time this process sends to a
 * subscriber of its kind: together about 30 MB of resident memory that a web process, or a worker
 * whose subscribers are all HTTP, never spends. Matrix and the chat webhooks need only fetch.
 */
const CONNECTIONS = {
  mqtt: { library: "mqtt", load: () => import("./transports/mqtt.js") },
  nats: { library: "@nats-io/transport-node and @nats-io/jetstream", load: () => import("./transports/nats.js") },
  amqp: { library: "rabbitmq-client", load: () => import("./transports/amqp.js") },
  irc: { library: "irc-framework", load: () => import("./transports/irc.js") },
};
type Loaded = { [K in keyof typeof CONNECTIONS]: Awaited<ReturnType<(typeof CONNECTIONS)[K]["load"]>> };
/** what this process has loaded: a transport of a loaded kind opens at once, as it always did */
const loaded: Partial<Loaded> = {};
const loading = new Map<keyof Loaded, Promise<Loaded[keyof Loaded]>>();

const onDemand = (kind: SinkKind): kind is keyof Loaded => Object.hasOwn(CONNECTIONS, kind);

/**
 * The transport module of `kind`, imported once per process. A failed import (a dependency
 * missing from node_modules) rejects with an error naming the library, and the next delivery tries again.
 */
function loadConnection<K extends keyof Loaded>(kind: K): Promise<Loaded[K]> {
  const done = loaded[kind];
  if (done) return Promise.resolve(done);
  let pending = loading.get(kind) as Promise<Loaded[K]> | undefined;
  if (!pending) {
    const { library, load } = CONNECTIONS[kind];
    pending = (load() as Promise<Loaded[K]>).then(
      (module) => (loaded[kind] = module),
      (error: unknown) => {
        loading.delete(kind);
        throw new Error(`the ${kind} transport cannot be loaded: its client library (${library}) failed to import: ${(error as Error)?.message ?? String(error)}; reinstall the relay's dependencies (npm ci)`, { cause: error });
      },
    );
    loading.set(kind, pending);
  }
  return pending;
}

/**
 * The connections to broker and chat subscribers, one per subscriber, kept between deliveries (an
 * MQTT session, a NATS connection, an AMQP channel, an IRC presence in its channel). A subscriber whose
 * entry changed (a new map, OPENCI_SINKS) gets a new connection and its old one is closed.
 * Transports see the environment less the relay's own variables: a subscriber can never be handed
 * the app's key or the Redis password, whatever variable its entry names.
 *
 * The client library of a kind (mqtt, NATS, AMQP, IRC) is imported by `load`, which a delivery awaits
 * before `broker` or `chat`. Asked for a transport of a kind not loaded yet, the pool hands out one
 * that loads it and opens its connection on its first publish or line.
 */
export class TransportPool {
  private readonly open = new Map<string, { fingerprint: string; transport: Closable }>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv, private readonly log: Logger) {
    this.env = Object.fromEntries(Object.entries(env).filter(([name]) => !isRelayOwnVariable(name)));
  }

  /** Imports the client library a subscriber of `kind` is reached with, once per process (nothing to do for the others). */
  async load(kind: SinkKind): Promise<void> {
    if (onDemand(kind)) await loadConnection(kind);
  }

  /** The connection for a broker subscriber (mqtt, nats, amqp). */
  broker(sink: Sink): Transport {
    return this.get(sink, () => {
      const base = { id: sink.id, url: sink.url };
      const spec = sink.spec as Record<string, unknown>;
      const log = this.log.child({ sink: sink.id });
      switch (sink.kind) {
        case "mqtt": {
          const options = MqttOptions.parse(pick(spec, Object.keys(MqttOptions.shape)));
          return this.opened("mqtt", (m) => m.mqttTransport({ ...base, ...options }, this.env, log));
        }
        case "nats": {
          const options = NatsOptions.parse(pick(spec, Object.keys(NatsOptions.shape)));
          return this.opened("nats", (m) => m.natsTransport({ ...base, ...options }, this.env, log));
        }
        case "amqp": {
          const options = AmqpOptions.parse(pick(spec, Object.keys(AmqpOptions.shape)));
          return this.opened("amqp", (m) => m.amqpTransport({ ...base, ...options }, this.env, log));
        }
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
        case "irc": {
          const options = IrcOptions.parse(pick(spec as Record<string, unknown>, Object.keys(IrcOptions.shape)));
          return this.opened("irc", (m) => m.ircTransport({ id: sink.id, url: sink.url, ...options }, this.env, log));
        }
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

  /** The transport `make` builds from the module of `kind`: at once when it is loaded, else on first use. */
  private opened<K extends keyof Loaded>(kind: K, make: (module: Loaded[K]) => Closable): Closable {
    const module = loaded[kind];
    return module ? make(module) : new OnFirstUse(() => loadConnection(kind).then(make));
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

/**
 * A broker or chat transport whose module was not loaded when it was asked for: the first publish
 * or line loads it and builds the transport, which then does everything. A failed load or build is
 * that call's error, and the next call tries again.
 */
class OnFirstUse implements Transport, ChatTransport {
  private made: Promise<Closable> | undefined;

  constructor(private readonly make: () => Promise<Closable>) {}

  async publish(message: SinkMessage): Promise<void> {
    await ((await this.real()) as Transport).publish(message);
  }

  async say(line: ChatLine): Promise<void> {
    await ((await this.real()) as ChatTransport).say(line);
  }

  async close(): Promise<void> {
    const transport = await this.made?.catch(() => undefined);
    await transport?.close();
  }

  private real(): Promise<Closable> {
    if (!this.made) {
      const made = this.make();
      this.made = made;
      made.catch(() => {
        if (this.made === made) this.made = undefined;
      });
    }
    return this.made;
  }
}
