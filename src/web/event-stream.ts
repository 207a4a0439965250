import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { toCDEvent } from "../history/cdevent.js";
import { structuredJson } from "../history/cloudevent.js";
import type { HistoryReader, Reach } from "../history/history-reader.js";
import type { LogEntry } from "../history/history-store.js";
import { decode } from "../history/cid.js";
import { projectsOf, type HistoryRecord } from "../history/record.js";
import { namedProjects } from "../history/visibility.js";
import { readReach, refuseReader, type ReadTokens } from "./admin-auth.js";
import { clientAddress, PerAddress, reply, tooMany } from "./http.js";

export const EVENTS_PATH = "/api/v1/events";
const HEARTBEAT_MS = 15_000;
const BLOCK_MS = 5_000;
const ID = /^\d+-\d+$/;
/** Clients per process; more get 503 and come back (EventSource retries). */
const MAX_CLIENTS = 500;
/** A live client that has this much unread is dropped (it reconnects with Last-Event-ID and catches up). */
const MAX_BUFFERED = 1 << 20;
/** Rendered log entries kept for every client of a stream: a replay from `0-0` by many clients renders each once. */
const RENDERED_KEPT = 5000;

/** Per-client limits (OPENCI_STREAMS_PER_ADDRESS, OPENCI_STREAM_IDLE_MS, OPENCI_TRUST_PROXY). */
export interface StreamLimits {
  /** streams one client address may hold at once (0: no limit besides the process's) */
  perAddress: number;
  /** a client that has taken nothing of what was sent for this long is dropped (it reconnects with Last-Event-ID) */
  idleMs: number;
  /** reverse proxies in front of the relay whose X-Forwarded-For is believed */
  trustProxy: number;
}

export const STREAM_DEFAULTS: StreamLimits = { perAddress: 10, idleMs: 60_000, trustProxy: 0 };

interface Client {
  res: ServerResponse;
  /** gives the client's address its slot back */
  release: () => void;
  /** since when a write has waited for the client to read (undefined: it keeps up) */
  stalledSince: number | undefined;
  project: string | undefined;
  /** the last log id sent: nothing at or before it is sent again */
  lastSent: string;
  /** while replaying from Last-Event-ID, live entries wait here */
  backlog: LogEntry[] | undefined;
}

/** An entry as an event (undefined: not an event for anyone), with the projects it is about and names. */
type Rendered = { json: string; projects: string[]; named: string[] } | undefined;

/**
 * `GET /api/v1/events` for each reader: without credentials the public log (less projects hidden
 * since); with the read or admin token the full log, whose event ids are its own; with a wrong
 * token 401.
 */
export class EventStreams {
  private readonly streams: Record<Reach, EventStream>;

  constructor(
    readers: Record<Reach, HistoryReader>, connect: () => Redis, source: string, log: Logger, private readonly tokens: ReadTokens,
    limits: Partial<StreamLimits> = {},
  ) {
    // One count per address across both streams: the token does not buy more sockets.
    const shared = { ...STREAM_DEFAULTS, ...limits };
    const addresses = new PerAddress(shared.perAddress);
    this.streams = {
      public: new EventStream(readers.public, connect, source, log, shared, addresses),
      all: new EventStream(readers.all, connect, source, log, shared, addresses),
    };
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
 * every client, and each log entry is rendered once for all of them (live or replaying). A client
 * address holds at most `perAddress` streams; a client that takes nothing for `idleMs` is dropped.
 */
export class EventStream {
  private readonly clients = new Set<Client>();
  private reader: Redis | undefined;
  private position = "$";
  private running = false;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweeper: NodeJS.Timeout;
  /** log id → its rendering, shared by every client, oldest first */
  private readonly rendered = new Map<string, Promise<Rendered>>();

  constructor(
    private readonly history: HistoryReader,
    private readonly connect: () => Redis,
    private readonly source: string,
    private readonly log: Logger,
    private readonly limits: StreamLimits = STREAM_DEFAULTS,
    private readonly addresses = new PerAddress(limits.perAddress),
  ) {
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) this.write(c, ": ping\n\n");
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.sweeper = setInterval(() => this.dropIdle(), Math.max(50, Math.min(1000, limits.idleMs / 4)));
    this.sweeper.unref();
  }

  /** Clients connected now. */
  get size(): number {
    return this.clients.size;
  }

  handler() {
    return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      const url = new URL(req.url ?? "/", "http://relay");
      if (url.pathname !== EVENTS_PATH) return false;
      if (req.method !== "GET") return reply(res, 405, { error: "use GET" });
      let resume = String(req.headers["last-event-id"] ?? url.searchParams.get("lastEventId") ?? "").trim();
      if (resume !== "" && !ID.test(resume)) return reply(res, 400, { error: "Last-Event-ID must be an event id this stream sent, e.g. 1764635000000-0" });
      const release = this.addresses.take(clientAddress(req, this.limits.trustProxy));
      if (!release) return tooMany(res, "event streams", this.limits.perAddress, "OPENCI_STREAMS_PER_ADDRESS");
      if (this.clients.size >= MAX_CLIENTS) {
        release();
        res.setHeader("retry-after", "10");
        return reply(res, 503, { error: "too many event stream clients on this relay: retry later" });
      }
      try {
        // Redis is asked before the answer starts, so a Redis error is still a clean 5xx.
        const last = await this.history.lastLogId();
        if (!this.running) this.position = last;
        // An id past the end of the log: the log was replaced (restored, flushed); everything is new.
        if (resume !== "" && compareIds(resume, last) > 0) resume = "0-0";
      } catch (err) {
        release();
        throw err;
      }
      if (req.destroyed) return release(), true;
      this.join(req, res, release, resume || undefined, url.searchParams.get("project") ?? undefined);
      return true;
    };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    for (const c of this.clients) c.res.end(), c.release();
    this.clients.clear();
    this.reader?.disconnect();
  }

  private join(req: IncomingMessage, res: ServerResponse, release: () => void, resume: string | undefined, project: string | undefined): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    const client: Client = { res, release, stalledSince: undefined, project, lastSent: resume ?? this.position, backlog: resume ? [] : undefined };
    this.write(client, "retry: 3000\n\n");
    this.clients.add(client);
    req.on("close", () => this.drop(client));
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
        const events = await this.visible(await this.render(page));
        for (const [i, e] of page.entries()) {
          this.send(client, e, events[i]);
          if (client.res.writableNeedDrain) await drained(client.res);
          if (client.res.destroyed) return;
        }
        after = page[page.length - 1]!.id;
      }
      // Live entries that came meanwhile, oldest first; new ones keep queueing until the backlog is empty.
      while (client.backlog!.length > 0) {
        const page = client.backlog!.splice(0);
        const events = await this.visible(await this.render(page));
        for (const [i, e] of page.entries()) this.send(client, e, events[i]);
      }
      client.backlog = undefined;
    } catch (err) {
      // The client reconnects with its Last-Event-ID and gets the rest: no gap.
      this.log.warn({ err: (err as Error).message }, "event stream replay failed: closing the stream");
      this.drop(client);
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
        const events = await this.visible(await this.render(entries));
        for (const [i, e] of entries.entries()) {
          for (const c of this.clients) {
            if (c.backlog) c.backlog.push(e);
            else this.send(c, e, events[i]);
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

  /**
   * The entries as events, each rendered once for every client while it is among the last
   * RENDERED_KEPT: the records of those not rendered yet are read in one batch.
   */
  private async render(entries: LogEntry[]): Promise<Rendered[]> {
    const missing = entries.filter((e) => !this.rendered.has(e.id));
    if (missing.length > 0) {
      const bytes = this.history.store.many([...new Set(missing.map((e) => e.cid))]);
      for (const e of missing) {
        const one = bytes.then((found) => this.renderOne(e, found.get(e.cid)));
        // A failed read is not kept: the next client (or the reconnect) reads again.
        one.catch(() => this.rendered.get(e.id) === one && this.rendered.delete(e.id));
        this.rendered.set(e.id, one);
      }
      for (const id of this.rendered.keys()) {
        if (this.rendered.size <= RENDERED_KEPT) break;
        this.rendered.delete(id);
      }
    }
    return Promise.all(entries.map((e) => this.rendered.get(e.id) ?? this.render([e]).then((r) => r[0])));
  }

  private renderOne(e: LogEntry, bytes: Uint8Array | undefined): Rendered {
    if (!bytes) return undefined;
    try {
      const record = decode<HistoryRecord>(bytes);
      return { json: structuredJson(toCDEvent(e.cid, record, this.source)), projects: projectsOf(record), named: namedProjects(record) };
    } catch (err) {
      this.log.error({ err, cid: e.cid }, "history record cannot be rendered as an event: skipped");
      return undefined;
    }
  }

  /** What this stream's readers may see now, asked once per batch (a project may have turned private since it was rendered). */
  private async visible(events: Rendered[]): Promise<Rendered[]> {
    const hidden = await this.history.hidden([...new Set(events.flatMap((r) => r?.named ?? []))]);
    return hidden.size === 0 ? events : events.map((r) => (r && !r.named.some((p) => hidden.has(p)) ? r : undefined));
  }

  private send(c: Client, e: LogEntry, rendered: Rendered): void {
    if (!rendered || compareIds(e.id, c.lastSent) <= 0) return;
    c.lastSent = e.id;
    if (c.project !== undefined && !rendered.projects.includes(c.project)) return;
    if (!c.backlog && c.res.writableLength > MAX_BUFFERED) {
      // Not reading: let it go rather than hold the stream for it.
      this.drop(c);
      c.res.destroy();
      return;
    }
    this.write(c, `id: ${e.id}\ndata: ${rendered.json}\n\n`);
  }

  /** Writes, noting when the client stops taking what is sent. */
  private write(c: Client, text: string): void {
    if (c.res.write(text) || c.stalledSince !== undefined) return;
    c.stalledSince = Date.now();
    c.res.once("drain", () => (c.stalledSince = undefined));
  }

  /** Drops clients that have taken nothing for idleMs; EventSource reconnects with its Last-Event-ID. */
  private dropIdle(): void {
    const now = Date.now();
    for (const c of this.clients) {
      if (c.stalledSince === undefined || now - c.stalledSince < this.limits.idleMs) continue;
      this.drop(c);
      c.res.destroy();
    }
  }

  private drop(c: Client): void {
    this.clients.delete(c);
    c.release();
  }
}

/** Resolves when the response may be written again, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Orders stream ids `<ms>-<n>` ("$" and "0" sort first). */
function compareIds(a: string, b: string): number {
  if (!ID.test(b)) return 1;
  if (!ID.test(a)) return -1;
  const [am, an] = a.split("-").map(Number) as [number, number];
  const [bm, bn] = b.split("-").map(Number) as [number, number];
  return am - bm || an - bn;
}
