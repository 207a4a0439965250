import { afterEach } from "@jest/globals";
import { pino, type Logger } from "pino";
import type { CDEvent } from "../../src/history/cdevent.js";
import { binaryMessage, structuredJson } from "../../src/history/cloudevent.js";
import type { SinkMessage, TopicNames } from "../../src/sinks/transport.js";

/** What the broker and chat transport tests share: a logger to read, a message to send, transports closed after each test. */

/** A pino logger (debug) writing into memory, to read what a transport said (and prove what it never said). */
export function memoryLog(): { log: Logger; lines: string[]; text: () => string; said: (re: RegExp) => { msg: string; [k: string]: unknown }[] } {
  const lines: string[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(s) });
  return {
    log,
    lines,
    text: () => lines.join(""),
    said: (re) => lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => re.test(l.msg)),
  };
}

/** One of the relay's events as the sinks worker builds it: its attributes are the HTTP binary mode's ce-* headers. */
export function binaryModeMessage(cid: string, n: number, names: Partial<TopicNames> = {}): SinkMessage {
  const event = {
    context: { specversion: "0.5.1", id: cid, source: "https://relay.example/openci-relay", type: "dev.cdevents.pipelinerun.finished.0.3.0", timestamp: "2025-01-02T03:04:05.000Z" },
    subject: { id: `nova@v${n}`, content: { pipelineName: "ci", outcome: "success" } },
    customData: { kind: "result", n },
    customDataContentType: "application/json",
  } as CDEvent;
  const { headers, body } = binaryMessage(event);
  const attributes = Object.fromEntries(Object.entries(headers).flatMap(([k, v]): [string, string][] =>
    k.startsWith("ce-") ? [[k.slice(3), v]] : k === "content-type" ? [["datacontenttype", v]] : []));
  return {
    cid, event, attributes, body, structured: structuredJson(event),
    names: { foundation: "lf", project: "nova", event: "pipelinerun.finished", ...names },
  };
}

/** `make`, with every transport it made closed after each test. */
export function closedAfterEach<A extends unknown[], T extends { close(): Promise<void> }>(make: (...args: A) => T): (...args: A) => T {
  const open: T[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  return (...args) => {
    const t = make(...args);
    open.push(t);
    return t;
  };
}
