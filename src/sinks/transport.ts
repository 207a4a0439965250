import type { CDEvent } from "../history/cdevent.js";

/**
 * One of the relay's events as every broker transport sends it (MQTT, NATS, AMQP). Built once per
 * delivery by the sinks worker from the history record; a transport only encodes and publishes it.
 */
export interface SinkMessage {
  /** the record's CID: the message id (JetStream `Nats-Msg-Id`, AMQP `message_id`); the CDEvent id (`attributes.id`) is the same CID */
  cid: string;
  /** the CDEvent (CloudEvents `data`) */
  event: CDEvent;
  /** its CloudEvents context attributes without the `ce-` prefix: specversion, id, source, type, subject, time, datacontenttype */
  attributes: Record<string, string>;
  /** the CDEvent as JSON text (the payload in binary mode) */
  body: string;
  /** the CloudEvent as one JSON text (structured mode: attributes and `data` together) */
  structured: string;
  /** what topic/subject/routing-key templates may name: `{foundation}` (`_` when none), `{project}`, `{event}` (e.g. `pipelinerun.finished`) */
  names: TopicNames;
}

export interface TopicNames {
  foundation: string;
  project: string;
  event: string;
}

/** A publisher to one broker subscriber: holds its connection between deliveries. */
export interface Transport {
  /**
   * Sends one message and resolves only once the far end has it (MQTT PUBACK at QoS 1, a JetStream
   * ack, an AMQP publisher confirm). Throws on anything else: the sinks queue retries with backoff
   * and dead-letters after the subscriber's attempts.
   */
  publish(message: SinkMessage): Promise<void>;
  /** Closes the connection; a later publish may open it again. */
  close(): Promise<void>;
}

/** One line for people (chat), with a key that stays the same when it is retried. */
export interface ChatLine {
  /** plain text, one line, already neutralised */
  text: string;
  /** the same line as HTML (Matrix `formatted_body`), already escaped */
  html: string;
  /** stable across retries of the same line: Matrix derives its txnId from it */
  key: string;
}

/** A chat subscriber (IRC, Matrix, Slack/Mattermost/Discord webhooks): says lines, never drops one. */
export interface ChatTransport {
  /** Resolves once the line is accepted by the far end (IRC: written to the server, after the send pacing); throws to retry. */
  say(line: ChatLine): Promise<void>;
  close(): Promise<void>;
}

/**
 * Fills a topic template: `{foundation}` and `{project}` are replaced by their names with whatever the
 * transport may not carry in one level replaced (`sanitize`), so a name can never add a level or a
 * wildcard (MQTT `+`/`#`/`/`, NATS `*`/`>`/`.`/white space, AMQP `*`/`#`/`.`). `{event}` is one of the
 * relay's own short CDEvent types (lower-case letters, `-` and one `.`, e.g. `pipelinerun.finished`):
 * inserted as it is, so NATS and AMQP subscribers can bind `openci.*.*.pipelinerun.*`.
 */
export function fillTopic(template: string, names: TopicNames, sanitize: (level: string) => string): string {
  return template.replace(/\{(foundation|project|event)\}/g, (_, name: keyof TopicNames) => (name === "event" ? names.event : sanitize(names[name])));
}
