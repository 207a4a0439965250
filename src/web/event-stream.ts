import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { toCDEvent } from "../history/cdevent.js";
import { structuredJson } from "../history/cloudevent.js";
import { decode } from "../history/cid.js";
import { HistoryStore, type LogEntry } from "../history/history-store.js";
import { projectsOf, type HistoryRecord } from "../history/record.js";
import { reply } from "./http.js";

export const EVENTS_PATH = "/api/v1/events";
const HEARTBEAT_MS = 15_000;
const BLOCK_MS = 5_000;
const ID = /^\d+-\d+$/;

interface Client {
  res: ServerResponse;
  project: string | undefined;
  /** the last log id sent: nothing at or before it is sent again */
  lastSent: string;
  /** while replaying from Last-Event-ID, live entries wait here */
  backlog: LogEntry[] | undefined;
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
    private readonly store: HistoryStore,
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
      const resume = String(req.headers["last-event-id"] ?? url.searchParams.get("lastEventId") ?? "").trim();
      if (resume !== "" && !ID.test(resume)) return reply(res, 400, { error: "Last-Event-ID must be an event id this stream sent, e.g. 1764635000000-0" });
      await this.join(req, res, resume || undefined, url.searchParams.get("project") ?? undefined);
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

  private async join(req: IncomingMessage, res: ServerResponse, resume: string | undefined, project: string | undefined): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    res.write("retry: 3000\n\n");
    if (!this.running) this.position = await this.store.lastLogId();
    const client: Client = { res, project, lastSent: resume ?? this.position, backlog: resume ? [] : undefined };
    this.clients.add(client);
    req.on("close", () => this.clients.delete(client));
    if (!this.running) {
      this.running = true;
      void this.readLoop();
    }
    if (!resume) return;
    // Replay from the log, then what arrived live meanwhile: each id once, in order.
    try {
      for (let after = resume; ;) {
        const page = await this.store.logAfter(after, 500);
        if (page.length === 0) break;
        for (const e of page) await this.send(client, e, await this.render(e));
        after = page[page.length - 1]!.id;
      }
    } catch (err) {
      this.log.warn({ err }, "event stream replay failed");
    }
    const live = client.backlog ?? [];
    client.backlog = undefined;
    for (const e of live) await this.send(client, e, await this.render(e));
  }

  private async readLoop(): Promise<void> {
    this.reader ??= this.connect();
    this.reader.on("error", () => undefined);
    while (!this.closed && this.clients.size > 0) {
      try {
        const entries = await HistoryStore.readLog(this.reader, this.position, BLOCK_MS);
        for (const e of entries) {
          this.position = e.id;
          const rendered = await this.render(e);
          for (const c of this.clients) {
            if (c.backlog) c.backlog.push(e);
            else await this.send(c, e, rendered);
          }
        }
      } catch (err) {
        if (this.closed) break;
        this.log.warn({ err: (err as Error).message }, "event stream reader error: retrying");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    this.running = false;
  }

  private async render(e: LogEntry): Promise<{ json: string; projects: string[] } | undefined> {
    const bytes = await this.store.bytes(e.cid);
    if (!bytes) return undefined;
    const record = decode<HistoryRecord>(bytes);
    return { json: structuredJson(toCDEvent(e.cid, record, this.source)), projects: projectsOf(record) };
  }

  private async send(c: Client, e: LogEntry, rendered: { json: string; projects: string[] } | undefined): Promise<void> {
    if (!rendered || compareIds(e.id, c.lastSent) <= 0) return;
    c.lastSent = e.id;
    if (c.project !== undefined && !rendered.projects.includes(c.project)) return;
    c.res.write(`id: ${e.id}\ndata: ${rendered.json}\n\n`);
  }
}

/** Orders stream ids `<ms>-<n>` ("$" and "0" sort first). */
function compareIds(a: string, b: string): number {
  if (!ID.test(b)) return 1;
  const [am, an] = a.split("-").map(Number) as [number, number];
  const [bm, bn] = b.split("-").map(Number) as [number, number];
  return am - bm || an - bn;
}
