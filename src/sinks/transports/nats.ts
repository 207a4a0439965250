import { UnrecoverableError } from "bullmq";
import { connect, type ConnectionOptions, type MsgHdrs, type NatsConnection, headers } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError, StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { isRelayOwnVariable } from "../../map/secret-names.js";
import { fillTopic, type SinkMessage, type Transport } from "../transport.js";
import { NATS_DEFAULT_STREAM, NATS_DEFAULT_SUBJECT, natsCredentialsProblem, natsUrlProblem, sanitizeNatsToken, subjectTemplateProblem, type NatsSink } from "./nats-options.js";
import { envValue } from "./secret-env.js";

export { NATS_DEFAULT_STREAM, NATS_DEFAULT_SUBJECT, natsCredentialsProblem, NatsOptions, natsUrlProblem, sanitizeNatsToken, type NatsSink } from "./nats-options.js";

/**
 * NATS JetStream subscribers. Each event is published to a subject made from the subscriber's
 * template and stored by a JetStream stream before the delivery counts as done (the PubAck). The
 * record's CID is the message id (`Nats-Msg-Id`), so a redelivery of an event JetStream already has
 * (an ack lost to a crash, a re-driven dead letter) is dropped by the stream's duplicate window.
 *
 * CloudEvents NATS binding (spec v1.0.3, binary content mode): the CDEvent JSON is the payload and
 * every context attribute is a `ce-<name>` header, `datacontenttype` included (unlike HTTP, NATS has
 * no Content-Type of its own; a receiver takes a message without `Content-Type: application/cloudevents`
 * as binary mode). Header values are percent-encoded as the binding says.
 */

const DEFAULT_PORT = 4222;
const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * How long the stream the relay creates remembers message ids: an hour covers a subscriber's
 * default 10 attempts with exponential backoff (about 17 minutes) and a prompt re-drive.
 */
const DUPLICATE_WINDOW_NS = 60 * 60 * 1e9;

/** A CloudEvents attribute as a NATS header value: space, '"', '%' and anything outside printable ASCII percent-encoded (UTF-8, upper-case hex). */
function headerValue(value: string): string {
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    out += code > 0x20 && code < 0x7f && ch !== '"' && ch !== "%"
      ? ch
      : [...Buffer.from(ch, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
  }
  return out;
}

function cloudEventHeaders(attributes: Record<string, string>): MsgHdrs {
  const h = headers();
  for (const [name, value] of Object.entries(attributes)) h.set(`ce-${name}`, headerValue(value));
  return h;
}


interface Connected {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** A publisher to one NATS subscriber: connects on the first publish and keeps the connection (it reconnects by itself). */
export function natsTransport(sink: NatsSink, env: NodeJS.ProcessEnv, log: Logger, o: { timeoutMs?: number } = {}): Transport {
  const problem = natsUrlProblem(sink.url) ?? natsCredentialsProblem(sink) ?? subjectProblem(sink.subject);
  if (problem) throw new Error(`subscriber '${sink.id}': ${problem}`);
  return new NatsTransport(sink, env, log.child({ sink: sink.id }), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

function subjectProblem(subject: string | undefined): string | undefined {
  const problem = subject === undefined ? undefined : subjectTemplateProblem(subject);
  return problem && `subject ${problem}`;
}

class NatsTransport implements Transport {
  private connection: Promise<Connected> | undefined;
  /** subjects a stream was found or made for on this transport; one look-up at a time */
  private readonly captured = new Set<string>();
  private streams: Promise<unknown> = Promise.resolve();
  private readonly template: string;
  private readonly where: string;

  constructor(private readonly sink: NatsSink, private readonly env: NodeJS.ProcessEnv, private readonly log: Logger, private readonly timeoutMs: number) {
    this.template = sink.subject ?? NATS_DEFAULT_SUBJECT;
    const url = new URL(sink.url);
    this.where = `NATS ${url.protocol}//${url.host}`;
  }

  publish(message: SinkMessage): Promise<void> {
    const subject = fillTopic(this.template, message.names, sanitizeNatsToken);
    return deadline(this.send(subject, message), this.timeoutMs,
      () => `${this.where}: no JetStream ack for ${message.cid} on ${subject} within ${this.timeoutMs} ms: is the server up and reachable?`);
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.captured.clear();
    const c = await connection?.catch(() => undefined);
    await c?.nc.close();
  }

  private async send(subject: string, message: SinkMessage): Promise<void> {
    const started = Date.now();
    const c = await this.connect();
    await this.ensureStream(c, subject);
    let ack;
    try {
      ack = await c.js.publish(subject, message.body, {
        msgID: message.cid,
        headers: cloudEventHeaders(message.attributes),
        timeout: Math.max(1, this.timeoutMs - (Date.now() - started)),
      });
    } catch (error) {
      const e = error as Error;
      if (e.name === "JetStreamNotEnabled") {
        // no responders: the stream was deleted (or JetStream turned off) since it was found; look again next time
        this.captured.delete(subject);
        throw new Error(`${this.wherePublish(subject)}: no JetStream stream captures it (deleted, or JetStream is off on that server): the next attempt creates ${this.streamName()} again`);
      }
      if (e.name === "TimeoutError") throw new Error(`${this.where}: no JetStream ack for ${message.cid} on ${subject} within ${this.timeoutMs} ms: is the server up and reachable?`);
      throw new Error(`${this.wherePublish(subject)} failed: ${e.message}`);
    }
    if (ack.duplicate) this.log.debug({ cid: message.cid, subject, stream: ack.stream, seq: ack.seq }, "JetStream already had this event: the redelivery was dropped");
    else this.log.debug({ cid: message.cid, subject, stream: ack.stream, seq: ack.seq }, "event published to NATS");
  }

  private wherePublish(subject: string) {
    return `${this.where}: publishing to ${subject}`;
  }

  private streamName() {
    return this.sink.stream ?? NATS_DEFAULT_STREAM;
  }

  private connect(): Promise<Connected> {
    if (!this.connection) {
      const opening = this.open();
      this.connection = opening;
      opening.then(
        ({ nc }) => void nc.closed().then(() => { if (this.connection === opening) this.connection = undefined; }),
        () => { if (this.connection === opening) this.connection = undefined; },
      );
    }
    return this.connection;
  }

  private async open(): Promise<Connected> {
    const { auth, from } = this.credentials();
    const url = new URL(this.sink.url);
    const options: ConnectionOptions = {
      servers: url.port === "" ? `${url.host}:${DEFAULT_PORT}` : url.host,
      name: `openci-relay ${this.sink.id}`,
      timeout: this.timeoutMs,
      // keep trying for as long as the relay runs: publishes meanwhile time out and the queue retries them
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      ...(url.protocol === "tls:" ? { tls: {} } : {}),
      ...auth,
    };
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (error) {
      throw new Error(this.connectError(error as Error, from));
    }
    void this.watch(nc);
    return {
      nc,
      js: jetstream(nc, { timeout: this.timeoutMs }),
      jsm: await jetstreamManager(nc, { timeout: this.timeoutMs, checkAPI: false }),
    };
  }

  /** The connection's credentials, read when connecting; names the variable to set, never its value. */
  private credentials(): { auth: Pick<ConnectionOptions, "token" | "user" | "pass">; from: string | undefined } {
    const read = (option: string, name: string) => {
      const value = isRelayOwnVariable(name) ? undefined : envValue(this.env, name);
      if (value === undefined) throw new UnrecoverableError(`subscriber '${this.sink.id}': ${name} (its ${option}) is not set: set it to the NATS server's ${option.replace(/_env$/, "").replace("username", "user name")}`);
      return value;
    };
    const { token_env, username_env, password_env } = this.sink;
    if (token_env) return { auth: { token: read("token_env", token_env) }, from: token_env };
    if (username_env && password_env) return { auth: { user: read("username_env", username_env), pass: read("password_env", password_env) }, from: `${username_env} and ${password_env}` };
    return { auth: {}, from: undefined };
  }

  private connectError(error: Error, from: string | undefined): string {
    if (error.name === "AuthorizationError") {
      return from
        ? `${this.where} refused the credentials in ${from}: check their values`
        : `${this.where} wants credentials: set token_env (or username_env and password_env) on subscriber '${this.sink.id}'`;
    }
    if (/server does not support 'tls'/.test(error.message)) return `${this.where} offers no TLS: use nats:// or turn TLS on at the server`;
    return `${this.where}: cannot connect: ${error.message}`;
  }

  /** Logs losing and regaining the server (the client reconnects by itself). */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") this.log.warn(`${this.where}: connection lost, reconnecting`);
      else if (status.type === "reconnect") this.log.info(`${this.where}: reconnected`);
    }
  }

  /** Makes sure a stream captures `subject`: finds one, or creates the subscriber's stream. */
  private ensureStream(c: Connected, subject: string): Promise<void> {
    if (this.captured.has(subject)) return Promise.resolve();
    const done = this.streams.catch(() => undefined).then(() => this.findOrCreate(c, subject));
    this.streams = done;
    return done;
  }

  private async findOrCreate({ jsm }: Connected, subject: string): Promise<void> {
    if (this.captured.has(subject)) return;
    try {
      await jsm.streams.find(subject);
      this.captured.add(subject);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) {
        throw new Error(`${this.where}: cannot look up the JetStream stream for ${subject}: ${(error as Error).message}`);
      }
    }
    const name = this.streamName();
    const subjects = [`${this.template.split(".")[0]}.>`];
    try {
      await jsm.streams.add({ name, subjects, storage: StorageType.File, duplicate_window: DUPLICATE_WINDOW_NS });
    } catch (error) {
      throw new Error(`${this.where}: no JetStream stream captures ${subject} and creating ${name} for ${subjects[0]} failed (${(error as Error).message}): `
        + `add ${subjects[0]} to a stream's subjects, or set the subscriber's stream option to an unused name`);
    }
    this.captured.add(subject);
    this.log.info({ stream: name, subjects }, `created JetStream stream ${name} for ${subjects[0]} (file storage, one-hour duplicate window)`);
  }
}

/** `work`, or a rejection saying `what` after `ms`: a publish never hangs, whatever the client does. */
function deadline<T>(work: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(what())), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
