import { UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { Connection, type Publisher } from "rabbitmq-client";
import type { SinkMessage, Transport } from "../transport.js";
import { AMQP_DEFAULT_EXCHANGE, AMQP_DEFAULT_ROUTING_KEY, amqpRoutingKey, amqpUrlProblem, SHORTSTR_MAX, type AmqpSink } from "./amqp-options.js";
import { brokerLogin, shownUrl } from "./secret-env.js";

export {
  AMQP_DEFAULT_EXCHANGE, AMQP_DEFAULT_ROUTING_KEY, AmqpOptions, amqpRoutingKey, amqpRoutingKeyProblem, amqpUrlProblem, amqpWord, type AmqpSink,
} from "./amqp-options.js";

/**
 * AMQP 0-9-1 (RabbitMQ) subscribers: each event is one persistent message on a topic exchange,
 * sent with publisher confirms, mapped as the CloudEvents AMQP protocol binding (1.0.2) says for
 * binary mode: the CDEvent is the body, `datacontenttype` the `content-type` property and every
 * other context attribute an application property `cloudEvents:<name>` (AMQP 0-9-1 calls them
 * headers; RabbitMQ maps one onto the other). The record's CID is the `message-id`, so a consumer
 * can drop the duplicates an at-least-once delivery may bring.
 */

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A publisher to one AMQP subscriber. The connection is opened on the first publish and kept;
 * rabbitmq-client reconnects it by itself (backoff up to 5 s) and re-opens the publisher's channel.
 * `publish` resolves on the broker's confirm (basic.ack: a persistent message routed to a durable
 * queue is on disk) and rejects on a nack, a closed channel or connection, or within `timeoutMs`,
 * so the sinks queue retries with backoff. A publish that gave up at its deadline may still be
 * confirmed later: delivery is at least once, and the message id says which are the same.
 *
 * The exchange is checked once per connection with a passive declare, which needs no permission:
 * a broker's admin may create it (any type) and grant the relay's user only `write`. A missing one
 * is declared as a durable topic exchange. Messages are not `mandatory`: a topic exchange nobody
 * has bound a queue to drops them, and that is the normal state of a firehose no one listens to.
 */
export function amqpTransport(sink: AmqpSink, env: NodeJS.ProcessEnv, log: Logger, o: { timeoutMs?: number } = {}): Transport {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const exchange = sink.exchange ?? AMQP_DEFAULT_EXCHANGE;
  const template = sink.routing_key ?? AMQP_DEFAULT_ROUTING_KEY;
  const where = `AMQP subscriber '${sink.id}' (${shownUrl(sink.url)})`;
  const sinkLog = log.child({ sink: sink.id });

  let open: Opened | undefined;
  /** the last connection problem, for the error of a publish that could not be sent */
  let lastProblem: string | undefined;

  interface Opened {
    connection: Connection;
    publisher: Publisher;
    /** the exchange check of this connection, shared by the publishes that wait for it (undefined: not done, or failed) */
    exchangeChecked: Promise<void> | undefined;
    /** each publish under way, told when the broker refuses the user (or the vhost): no retrying with the same credentials */
    waiting: Set<(refusal: Error) => void>;
  }

  const connect = (): Opened => {
    if (open) return open;
    const urlProblem = amqpUrlProblem(sink.url);
    if (urlProblem) throw new UnrecoverableError(`${where}: ${urlProblem}`);
    const url = new URL(sink.url);
    const tls = url.protocol === "amqps:";
    const connection = new Connection({
      hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? (tls ? 5671 : 5672) : Number(url.port),
      vhost: decodeURIComponent(url.pathname.slice(1)) || "/",
      tls,
      ...credentials(sink, env, where),
      connectionName: `openci-relay ${sink.id}`,
      connectionTimeout: timeoutMs,
      // a little after the publish's own deadline, whose error says why (the last connection problem)
      acquireTimeout: timeoutMs + 1000,
      retryLow: 200,
      retryHigh: 5000,
    });
    const opened: Opened = {
      connection,
      publisher: connection.createPublisher({ confirm: true }),
      exchangeChecked: undefined,
      waiting: new Set(),
    };
    open = opened;
    lastProblem = undefined;
    let wasConnected = false;
    connection.on("connection", () => {
      lastProblem = undefined;
      wasConnected = true;
      opened.exchangeChecked = undefined;
      sinkLog.info("connected to the AMQP broker");
    });
    connection.on("error", (err: Error & { code?: string }) => {
      if (err.code === "ACCESS_REFUSED" || err.code === "NOT_ALLOWED") {
        // Wrong user name or password, or no access to the vhost: rabbitmq-client would keep
        // trying the same credentials. The connection is dropped; the queue's retry opens a new one.
        const refusal = new Error(`${where}: the broker refused the connection (${err.code}): ${refusalHint(err.code, sink)}`);
        sinkLog.warn({ code: err.code }, refusal.message);
        lastProblem = refusal.message;
        if (open === opened) open = undefined;
        connection.unsafeDestroy();
        for (const tell of opened.waiting) tell(refusal);
        return;
      }
      if (wasConnected) sinkLog.warn({ err: err.message }, "connection to the AMQP broker lost; reconnecting");
      else if (err.message !== lastProblem) sinkLog.warn({ err: err.message }, "AMQP connection problem");
      wasConnected = false;
      lastProblem = err.message;
    });
    return opened;
  };

  /**
   * The exchange exists on this connection: checked passively, declared (durable topic) when missing.
   * Once per connection, whatever the number of publishes at once: a passive declare of a missing
   * exchange closes the channel, which would fail the others' publishes on it.
   */
  const ensureExchange = (opened: Opened): Promise<void> => {
    if (!opened.exchangeChecked) {
      const check = checkExchange(opened);
      opened.exchangeChecked = check;
      check.catch(() => {
        if (opened.exchangeChecked === check) opened.exchangeChecked = undefined;
      });
    }
    return opened.exchangeChecked;
  };

  const checkExchange = async (opened: Opened): Promise<void> => {
    try {
      await opened.connection.exchangeDeclare({ exchange, passive: true });
    } catch (err) {
      if ((err as { code?: string }).code !== "NOT_FOUND") throw err;
      try {
        await opened.connection.exchangeDeclare({ exchange, type: "topic", durable: true });
        sinkLog.info({ exchange }, "declared the AMQP exchange (durable, topic)");
      } catch (declareError) {
        if ((declareError as { code?: string }).code === "ACCESS_REFUSED") {
          throw new Error(`${where}: the exchange '${exchange}' does not exist and the relay's user may not declare it: declare it on the broker (a durable topic exchange) or grant the user configure permission on it`);
        }
        throw declareError;
      }
    }
  };

  const send = async (message: SinkMessage, opened: Opened): Promise<void> => {
    const routingKey = amqpRoutingKey(template, message);
    if (Buffer.byteLength(routingKey) > SHORTSTR_MAX) {
      throw new UnrecoverableError(`${where}: the routing key for ${message.cid} is longer than ${SHORTSTR_MAX} bytes (AMQP's limit): shorten routing_key`);
    }
    const { datacontenttype, ...attributes } = message.attributes;
    try {
      await ensureExchange(opened);
      await opened.publisher.send({
        exchange,
        routingKey,
        durable: true, // delivery mode 2: written to disk by a durable queue before the confirm
        messageId: message.cid,
        contentType: datacontenttype ?? "application/json",
        appId: "openci-relay",
        headers: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [`cloudEvents:${name}`, value])),
      }, Buffer.from(message.body, "utf8"));
    } catch (err) {
      // e.g. the exchange was deleted since it was checked (the channel closes with NOT_FOUND)
      opened.exchangeChecked = undefined;
      const said = (err as Error).message;
      throw new Error(said.startsWith(where) ? said : `${where}: publishing to '${exchange}' with '${routingKey}' failed: ${said}; the event will be retried`);
    }
    sinkLog.debug({ cid: message.cid, exchange, routingKey }, "event published");
  };

  /** every publish under way, so `close` can let them finish (each within its deadline) */
  const underWay = new Set<Promise<void>>();

  const publish = async (message: SinkMessage): Promise<void> => {
    const opened = connect();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${where}: the broker did not confirm ${message.cid} within ${timeoutMs} ms${lastProblem ? ` (${lastProblem})` : ""}; the event will be retried`)), timeoutMs);
    });
    let tell!: (refusal: Error) => void;
    const refused = new Promise<never>((_, reject) => (tell = reject));
    opened.waiting.add(tell);
    const sending = send(message, opened);
    sending.catch(() => undefined); // settles after the deadline when it lost the race
    try {
      await Promise.race([sending, deadline, refused]);
    } finally {
      clearTimeout(timer);
      // Nothing of this publish is left on the connection: a transport lives as long as the relay.
      opened.waiting.delete(tell);
    }
  };

  return {
    publish(message: SinkMessage): Promise<void> {
      const sending = publish(message);
      const settled = sending.then(() => undefined, () => undefined);
      underWay.add(settled);
      void settled.then(() => underWay.delete(settled));
      return sending;
    },
    async close(): Promise<void> {
      const opened = open;
      open = undefined;
      if (!opened) return;
      await Promise.all([...underWay]);
      // closing waits for the broker; one that is gone gets the socket destroyed instead
      const closing = opened.publisher.close().then(() => opened.connection.close());
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
      const outcome = await Promise.race([closing.then(() => "closed" as const, () => "failed" as const), late]);
      clearTimeout(timer);
      if (outcome !== "closed") opened.connection.unsafeDestroy();
    },
  };
}

/** The user name and password from the variables the subscriber names; AMQP's PLAIN login needs both or neither. */
function credentials(sink: AmqpSink, env: NodeJS.ProcessEnv, where: string): { username?: string; password?: string } {
  const login = brokerLogin(sink, env, where);
  if ((login.username === undefined) !== (login.password === undefined)) {
    throw new UnrecoverableError(`${where}: give both username_env and password_env (AMQP's PLAIN login takes both), e.g. "username_env": "BUS_USER", "password_env": "BUS_PASSWORD"`);
  }
  return login;
}

/** What to check when a broker refuses the connection. */
function refusalHint(code: string, sink: AmqpSink): string {
  const named = [sink.username_env, sink.password_env].filter(Boolean).join(" and ");
  if (code === "NOT_ALLOWED") return "the user may not use this vhost: check the url's vhost (%2F is '/'), or ask the broker's admin for permissions on it";
  return named ? `check the user name and password in ${named}, and that this user may connect` : "the broker wants a user name and password: set username_env and password_env";
}
