import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { LoopbackFake } from "../../helpers/loopback-fake.js";

/**
 * A fake Matrix homeserver on loopback: the three Client-Server API v3 routes a chat subscriber uses
 * (SOURCE.md), with the spec's rules where they matter: a Bearer access token (401
 * `M_MISSING_TOKEN` / `M_UNKNOWN_TOKEN`), aliases resolved through the room directory, joining a
 * public room or one the user is invited to (403 `M_FORBIDDEN` otherwise), an event refused from a
 * user not joined to the room (403 `M_FORBIDDEN`), `m.room.message` content checked, and transaction
 * ids idempotent per access token and path (a repeat answers the first event id and stores nothing).
 * A 429 `M_LIMIT_EXCEEDED` can be programmed. Any other request is a `problem` (a test fails on it)
 * and the spec's `M_UNRECOGNIZED`.
 */

export type MatrixRoute = "directory" | "join" | "send";

export interface FakeMatrixUser {
  /** `@relay:fake.test` */
  userId: string;
  /** its access token */
  token: string;
}

export interface FakeMatrixRoom {
  /** `!abc:fake.test`; made up when left out */
  roomId?: string;
  /** `#events:fake.test`, resolvable through the directory */
  alias?: string;
  /** join rule `public` (anyone may join) or `invite` (default) */
  public?: boolean;
  /** user ids already joined */
  members?: string[];
  /** user ids invited (they may join an invite-only room) */
  invited?: string[];
}

export interface StoredMatrixEvent {
  eventId: string;
  roomId: string;
  sender: string;
  type: string;
  content: Record<string, unknown>;
  txnId: string;
}

export interface RecordedMatrixRequest {
  method: string;
  path: string;
  route: MatrixRoute | undefined;
  query: string;
  headers: IncomingHttpHeaders;
  /** the parsed JSON body, when there was one */
  body: unknown;
  /** the user the access token belongs to */
  user: string | undefined;
  status: number;
  at: number;
}

interface Room {
  roomId: string;
  alias: string | undefined;
  public: boolean;
  members: Set<string>;
  invited: Set<string>;
}

interface RateLimit {
  route: MatrixRoute;
  times: number;
  retryAfterMs: number;
  /** also send the Retry-After header (seconds, rounded up) */
  header: boolean;
}

type Answer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

const API = "/_matrix/client/v3";
/** The content keys of `m.room.message` with the text msgtypes (m.text, m.notice, m.emote) and `m.mentions`. */
const MESSAGE_KEYS = new Set(["msgtype", "body", "format", "formatted_body", "m.mentions"]);
const TEXT_MSGTYPES = new Set(["m.text", "m.notice", "m.emote"]);
/** The join request body's documented fields. */
const JOIN_KEYS = new Set(["reason", "third_party_signed"]);

export class FakeMatrix extends LoopbackFake {
  readonly requests: RecordedMatrixRequest[] = [];
  readonly problems: string[] = [];
  private readonly rooms = new Map<string, Room>();
  private readonly events: StoredMatrixEvent[] = [];
  /** `<token> <path>` → the answer a transaction got first */
  private readonly transactions = new Map<string, Answer>();
  private readonly limits: RateLimit[] = [];
  private nextEvent = 1;

  private constructor(readonly serverName: string, private readonly users: FakeMatrixUser[]) {
    super();
  }

  static async start(o: { serverName?: string; users: FakeMatrixUser[]; rooms?: FakeMatrixRoom[] }): Promise<FakeMatrix> {
    const fake = new FakeMatrix(o.serverName ?? "fake.test", o.users);
    for (const room of o.rooms ?? []) fake.addRoom(room);
    await fake.listen();
    return fake;
  }

  /* ----- controls ----------------------------------------------------------------------------- */

  /** Creates a room; returns its id. */
  addRoom(o: FakeMatrixRoom): string {
    const roomId = o.roomId ?? `!${randomBytes(9).toString("base64url")}:${this.serverName}`;
    this.rooms.set(roomId, { roomId, alias: o.alias, public: o.public ?? false, members: new Set(o.members ?? []), invited: new Set(o.invited ?? []) });
    return roomId;
  }

  members(roomId: string): string[] {
    return [...this.room(roomId).members];
  }

  /** The events stored in a room, oldest first. */
  roomEvents(roomId: string): StoredMatrixEvent[] {
    return this.events.filter((e) => e.roomId === roomId);
  }

  calls(route: MatrixRoute): RecordedMatrixRequest[] {
    return this.requests.filter((r) => r.route === route);
  }

  /** The next `times` calls of `route` answer 429 M_LIMIT_EXCEEDED with `retry_after_ms` (and a Retry-After header when `header`). */
  rateLimit(route: MatrixRoute, o: { times?: number; retryAfterMs: number; header?: boolean }): void {
    this.limits.push({ route, times: o.times ?? 1, retryAfterMs: o.retryAfterMs, header: o.header ?? false });
  }

  private room(roomId: string): Room {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`no room ${roomId}`);
    return room;
  }

  /* ----- the API ------------------------------------------------------------------------------ */

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const seen: RecordedMatrixRequest = {
      method: req.method ?? "GET", path: url.pathname, route: undefined, query: url.search.slice(1), headers: req.headers,
      body: undefined, user: undefined, status: 0, at: Date.now(),
    };
    this.requests.push(seen);
    const send = (a: Answer) => {
      seen.status = a.status;
      const text = JSON.stringify(a.body);
      res.writeHead(a.status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...a.headers });
      res.end(text);
    };
    const problem = (what: string, a: Answer) => {
      this.problems.push(`matrix: ${req.method} ${url.pathname}${url.search}: ${what}`);
      send(a);
    };
    const raw = await new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });

    const route = matchRoute(url.pathname);
    if (!route) return problem("not a route of the fake", { status: 404, body: { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" } });
    seen.route = route.name;
    if (req.method !== route.method) return problem(`${route.name} is ${route.method}`, { status: 405, body: { errcode: "M_UNRECOGNIZED", error: "Unrecognized request" } });
    if (url.searchParams.has("access_token")) return problem("the access token as a query parameter is no longer supported (v1.20)", { status: 400, body: { errcode: "M_UNRECOGNIZED", error: "access_token in query" } });
    for (const name of url.searchParams.keys()) {
      if (!(route.name === "join" && name === "server_name")) {
        return problem(`query parameter ${name} is not documented for ${route.name}`, { status: 400, body: { errcode: "M_INVALID_PARAM", error: `Unknown parameter ${name}` } });
      }
    }
    let segments: string[];
    try {
      segments = route.captures.map((c) => decodeURIComponent(c));
    } catch {
      return problem("broken percent-encoding", { status: 400, body: { errcode: "M_INVALID_PARAM", error: "Bad path" } });
    }

    // Bearer token: every route but the directory lookup (which needs none) requires one.
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    const user = auth ? this.users.find((u) => u.token === auth[1]) : undefined;
    seen.user = user?.userId;
    if (route.name !== "directory") {
      if (!auth) return send({ status: 401, body: { errcode: "M_MISSING_TOKEN", error: "Missing access token" } });
      if (!user) return send({ status: 401, body: { errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token passed.", soft_logout: false } });
    }

    const limit = this.limits.find((l) => l.route === route.name && l.times > 0);
    if (limit) {
      limit.times--;
      return send({
        status: 429, body: { errcode: "M_LIMIT_EXCEEDED", error: "Too many requests", retry_after_ms: limit.retryAfterMs },
        headers: limit.header ? { "retry-after": String(Math.ceil(limit.retryAfterMs / 1000)) } : {},
      });
    }

    let body: unknown;
    if (route.method !== "GET") {
      if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return problem("the body must be application/json", { status: 400, body: { errcode: "M_NOT_JSON", error: "Content not JSON." } });
      try {
        body = JSON.parse(raw);
      } catch {
        return problem("the body is not JSON", { status: 400, body: { errcode: "M_NOT_JSON", error: "Content not JSON." } });
      }
      seen.body = body;
      if (body === null || typeof body !== "object" || Array.isArray(body)) return problem("the body must be a JSON object", { status: 400, body: { errcode: "M_BAD_JSON", error: "Content must be a JSON object." } });
    }

    switch (route.name) {
      case "directory": return send(this.directory(segments[0]!));
      case "join": {
        const unknown = Object.keys(body as object).filter((k) => !JOIN_KEYS.has(k));
        if (unknown.length) return problem(`join body fields ${unknown.join(", ")} are not documented`, { status: 400, body: { errcode: "M_BAD_JSON", error: "Unknown fields" } });
        return send(this.join(user!, segments[0]!));
      }
      case "send": {
        const [roomId, eventType, txnId] = segments as [string, string, string];
        if (eventType !== "m.room.message") return problem(`event type ${eventType}: the fake only stores m.room.message`, { status: 400, body: { errcode: "M_UNRECOGNIZED", error: "Unsupported event type" } });
        const key = `${auth![1]} ${url.pathname}`;
        const earlier = this.transactions.get(key);
        if (earlier) return send(earlier);
        const why = checkMessage(body as Record<string, unknown>);
        if (why) return problem(why, { status: 400, body: { errcode: "M_BAD_JSON", error: why } });
        const a = this.send(user!, roomId, txnId, body as Record<string, unknown>);
        if (a.status === 200) this.transactions.set(key, a);
        return send(a);
      }
    }
  }

  private directory(alias: string): Answer {
    if (!alias.startsWith("#") || !alias.includes(":")) return { status: 400, body: { errcode: "M_INVALID_PARAM", error: "Room alias invalid" } };
    const room = [...this.rooms.values()].find((r) => r.alias === alias);
    if (!room) return { status: 404, body: { errcode: "M_NOT_FOUND", error: `Room alias ${alias} not found.` } };
    return { status: 200, body: { room_id: room.roomId, servers: [this.serverName] } };
  }

  private join(user: FakeMatrixUser, roomIdOrAlias: string): Answer {
    const room = roomIdOrAlias.startsWith("#") ? [...this.rooms.values()].find((r) => r.alias === roomIdOrAlias) : this.rooms.get(roomIdOrAlias);
    if (!room) return { status: 404, body: { errcode: "M_NOT_FOUND", error: `Room ${roomIdOrAlias} not found.` } };
    if (!room.public && !room.invited.has(user.userId) && !room.members.has(user.userId)) {
      return { status: 403, body: { errcode: "M_FORBIDDEN", error: "You are not invited to this room." } };
    }
    room.members.add(user.userId);
    room.invited.delete(user.userId);
    return { status: 200, body: { room_id: room.roomId } };
  }

  private send(user: FakeMatrixUser, roomId: string, txnId: string, content: Record<string, unknown>): Answer {
    const room = this.rooms.get(roomId);
    // The authorization rules refuse an event whose sender is not joined; an unknown room is the same to a client.
    if (!room || !room.members.has(user.userId)) return { status: 403, body: { errcode: "M_FORBIDDEN", error: `User ${user.userId} not in room ${roomId}` } };
    const eventId = `$${(this.nextEvent++).toString(36)}${randomBytes(8).toString("base64url")}`;
    this.events.push({ eventId, roomId, sender: user.userId, type: "m.room.message", content, txnId });
    return { status: 200, body: { event_id: eventId } };
  }
}

function matchRoute(path: string): { name: MatrixRoute; method: string; captures: string[] } | undefined {
  let m = new RegExp(`^${API}/directory/room/([^/]+)$`).exec(path);
  if (m) return { name: "directory", method: "GET", captures: [m[1]!] };
  m = new RegExp(`^${API}/join/([^/]+)$`).exec(path);
  if (m) return { name: "join", method: "POST", captures: [m[1]!] };
  m = new RegExp(`^${API}/rooms/([^/]+)/send/([^/]+)/([^/]+)$`).exec(path);
  if (m) return { name: "send", method: "PUT", captures: [m[1]!, m[2]!, m[3]!] };
  return undefined;
}

/** `m.room.message` with a text msgtype: `body` and `msgtype` strings; `format` and `formatted_body` together, the format `org.matrix.custom.html`. */
function checkMessage(c: Record<string, unknown>): string | undefined {
  const unknown = Object.keys(c).filter((k) => !MESSAGE_KEYS.has(k));
  if (unknown.length) return `m.room.message content fields ${unknown.join(", ")} are not documented for text messages`;
  if (typeof c.msgtype !== "string" || !TEXT_MSGTYPES.has(c.msgtype)) return `msgtype ${JSON.stringify(c.msgtype)} is not one of m.text, m.notice, m.emote`;
  if (typeof c.body !== "string") return "body must be a string";
  if ((c.format === undefined) !== (c.formatted_body === undefined)) return "format and formatted_body go together";
  if (c.format !== undefined && c.format !== "org.matrix.custom.html") return `format ${JSON.stringify(c.format)}: only org.matrix.custom.html is defined`;
  if (c.formatted_body !== undefined && typeof c.formatted_body !== "string") return "formatted_body must be a string";
  return undefined;
}
