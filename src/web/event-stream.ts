import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { toCDEvent } from "../history/cdevent.js";
import { structuredJson } from "../history/cloudevent.js";
import type { HistoryReader, Reach } from "../history/history-reader.js";
import type { LogEntry } from "../history/history-store.js";
import { decode } from "../history/cid.js";
import { projectsOf, type HistoryRecord } from "../history/record.js";
import { readReach, refuseReader, type ReadTokens } from "./admin-auth.js";
import { reply } from "./http.js";

export const EVENTS_PATH = "/api/v1/events";
const HEARTBEAT_MS = 15_000;
const BLOCK_MS = 5_000;
const ID = /^\d+-\d+$/;
/** Clients per process; more get 503 and come back (EventSource retries). */
const MAX_CLIENTS = 500;
/** A live client that has this much unread is dropped (it reconnects with Last-Event-ID and catches up). */
const MAX_BUFFERED = 1 << 20;

interface Client {
  res: ServerResponse;
  project: string | undefined;
  /** the last log id sent: nothing at or before it is sent again */
  lastSent: string;
  /** while replaying from Last-Event-ID, live entries wait here */
  backlog: LogEntry[] | undefined;
}

type Rendered = { json: string; projects: string[] } | undefined;

/**
 * `GET /api/v1/events` for each reader: without credentials the public log (less projects hidden
 * since); with the read or admin token the full log, whose event ids are its own; with a wrong
 * token 401.
 */
export class EventStreams {
  private readonly streams: Record<Reach, EventStream>;

  constructor(readers: Record<Reach, HistoryReader>, connect: () => Redis, source: string, log: Logger, private readonly tokens: ReadTokens) {
    this.streams = { public: new EventStream(readers.public, connect, source, log), all: new EventStream(readers.all, connect, source, log) };
  }

  handler() {
    const handlers = { public: this.streams.public.handler(), all: this.streams.all.handler() };
    return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      if (new URL(req.url ?? "/", "http://relay").pathname !== EVENTS_PATH) return false;
      const reach = readReach(req, this.tokens);
      return reach === undefined ? refuseReader(req, res, this.tokens) : handlers[reach](req, res);
    };
  }

  close(): void {
    this.streams.public.close();
    this.streams.all.close();
  }
}

/**
 * `GET /api/v1/events`: the history as it is appended, as Server-Sent Events, each a CloudEvent
 * (structured JSON) carrying the CDEvent. The event id is the log id: a client that reconnects
 * with `Last-Event-ID` (or `?lastEventId=`) gets everything after it, then the live events.
 * `?project=ID` keeps only events about that project. One blocking reader per process feeds
 * every client.
 */
export class EventStream {
  private readonly clients = new Set<Client>();
  private reader: Redis | undefined;
  private position = "$";
  private running = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly history: HistoryReader,
    private readonly connect: () => Redis,
    private readonly source: string,
    private readonly log: Logger,
  ) {
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.res.write(": ping\n\n");
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  handler() {
    return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      const url = new URL(req.url ?? "/", "http://relay");
      if (url.pathname !== EVENTS_PATH) return false;
      if (req.method !== "GET") return reply(res, 405, { error: "use GET" });
      let resume = String(req.headers["last-event-id"] ?? url.searchParams.get("lastEventId") ?? "").trim();
      if (resume !== "" && !ID.test(resume)) return reply(res, 400, { error: "Last-Event-ID must be an event id this stream sent, e.g. 1764635000000-0" });
      if (this.clients.size >= MAX_CLIENTS) {
        res.setHeader("retry-after", "10");
        return reply(res, 503, { error: "too many event stream clients on this relay: retry later" });
      }
      // Redis is asked before the answer starts, so a Redis error is still a clean 5xx.
      const last = await this.history.lastLogId();
      if (!this.running) this.position = last;
      // An id past the end of the log: the log was replaced (restored, flushed); everything is new.
      if (resume !== "" && compareIds(resume, last) > 0) resume = "0-0";
      if (req.destroyed) return true;
      this.join(req, res, resume || undefined, url.searchParams.get("project") ?? undefined);
      return true;
    };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.reader?.disconnect();
  }

  private join(req: IncomingMessage, res: ServerResponse, resume: string | undefined, project: string | undefined): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 3000\n\n");
    const client: Client = { res, project, lastSent: resume ?? this.position, backlog: resume ? [] : undefined };
    this.clients.add(client);
    req.on("close", () => this.clients.delete(client));
    if (!this.running) {
      this.running = true;
      void this.readLoop();
    }
    if (resume) void this.replay(client, resume);
  }

  /** Everything after `resume` from the log, then what arrived live meanwhile: each id once, in order. */
  private async replay(client: Client, resume: string): Promise<void> {
    try {
      for (let after = resume; ;) {
        const page = await this.history.logAfter(after, 500);
        if (page.length === 0) break;
        for (const e of page) {
          await this.send(client, e, await this.render(e));
          if (client.res.writableNeedDrain) await new Promise((r) => client.res.once("drain", r));
          if (client.res.destroyed) return;
        }
        after = page[page.length - 1]!.id;
      }
      // Live entries that came meanwhile, oldest first; new ones keep queueing until the backlog is empty.
      while (client.backlog!.length > 0) {
        const e = client.backlog!.shift()!;
        await this.send(client, e, await this.render(e));
      }
      client.backlog = undefined;
    } catch (err) {
      // The client reconnects with its Last-Event-ID and gets the rest: no gap.
      this.log.warn({ err: (err as Error).message }, "event stream replay failed: closing the stream");
      this.clients.delete(client);
      client.res.end();
    }
  }

  private async readLoop(): Promise<void> {
    if (!this.reader) {
      this.reader = this.connect();
      this.reader.on("error", () => undefined);
    }
    while (!this.closed && this.clients.size > 0) {
      try {
        const entries = await this.history.readLog(this.reader, this.position, BLOCK_MS);
        for (const e of entries) {
          const rendered = await this.render(e);
          for (const c of this.clients) {
            if (c.backlog) c.backlog.push(e);
            else await this.send(c, e, rendered);
          }
          this.position = e.id;
        }
      } catch (err) {
        if (this.closed) break;
        this.log.warn({ err: (err as Error).message }, "event stream reader error: retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.running = false;
  }

  /** The entry as an event, or undefined when its record is not for this stream's readers. */
  private async render(e: LogEntry): Promise<Rendered> {
    const bytes = await this.history.store.bytes(e.cid);
    if (!bytes) return undefined;
    try {
      const record = decode<HistoryRecord>(bytes);
      if ((await this.history.visible([{ cid: e.cid, record }])).length === 0) return undefined;
      return { json: structuredJson(toCDEvent(e.cid, record, this.source)), projects: projectsOf(record) };
    } catch (err) {
      this.log.error({ err, cid: e.cid }, "history record cannot be rendered as an event: skipped");
      return undefined;
    }
  }

  private async send(c: Client, e: LogEntry, rendered: Rendered): Promise<void> {
    if (!rendered || compareIds(e.id, c.lastSent) <= 0) return;
    c.lastSent = e.id;
    if (c.project !== undefined && !rendered.projects.includes(c.project)) return;
    if (!c.backlog && c.res.writableLength > MAX_BUFFERED) {
      // Not reading: let it go rather than hold the stream for it.
      this.clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(`id: ${e.id}\ndata: ${rendered.json}\n\n`);
  }
}

/** Orders stream ids `<ms>-<n>` ("$" and "0" sort first). */
function compareIds(a: string, b: string): number {
  if (!ID.test(b)) return 1;
  if (!ID.test(a)) return -1;
  const [am, an] = a.split("-").map(Number) as [number, number];
  const [bm, bn] = b.split("-").map(Number) as [number, number];
  return am - bm || an - bn;
}
