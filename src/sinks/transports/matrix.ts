import { createHash } from "node:crypto";
import { UnrecoverableError } from "bullmq";
import type { Logger } from "pino";
import { z } from "zod";
import { isLoopback } from "../../artifacts/purl.js";
import type { ChatLine, ChatTransport } from "../transport.js";
import { DEFAULT_RATE_LIMIT_WAIT_MS, retryAfterHeaderMs, waitOutRateLimit } from "./http-wait.js";
import { ENV_NAME, requiredEnv } from "./secret-env.js";

/**
 * A Matrix room as a chat subscriber, through the Client-Server API v3 (spec.matrix.org): the relay's
 * own account (its access token in the variable `token_env` names) posts each line as an `m.notice`
 * (a bot's message, which other bots must never answer) with the HTML alongside.
 *
 * Idempotent where the homeserver is: the transaction id of each PUT is derived from the line's key,
 * and the homeserver answers a repeated transaction id of the same access token with the first
 * request's event id, so a retry after a lost answer never posts the line twice.
 *
 * What only a person can fix (an unset variable, a token the homeserver does not know, a room it
 * does not know or the account may not join or post in) is an UnrecoverableError: the sinks queue
 * dead-letters the line at once. A 5xx, a network failure or a rate limit longer than the time a
 * line has stay plain errors, retried with backoff.
 */

/** A server name (appendices, "Server Name"): a DNS name, an IPv4 address or a bracketed IPv6 one, and an optional port. */
const SERVER_NAME = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?`;
/** `#localpart:server` (appendices, "Room aliases"). */
const ROOM_ALIAS = new RegExp(String.raw`^#[^\s:]+:${SERVER_NAME}$`);
/** `!opaque:server`, or since room version 12 `!` and the create event's hash without a server. */
const ROOM_ID = new RegExp(String.raw`^![^\s:]+(?::${SERVER_NAME})?$`);
const ROOM_EXAMPLE = `"#openinfra-events:matrix.org" (an alias) or "!abc:matrix.org" (a room id)`;

export const MatrixOptions = z.strictObject({
  homeserver: z.url({ protocol: /^https?$/, error: 'must be the homeserver\'s https URL, e.g. "https://matrix.org"' })
    .refine((u) => { if (!URL.canParse(u)) return true; const url = new URL(u); return url.protocol === "https:" || isLoopback(url.hostname); }, 'must use https (http only on loopback), e.g. "https://matrix.org"')
    .refine((u) => { if (!URL.canParse(u)) return true; const url = new URL(u); return !url.username && !url.password && !url.search && !url.hash; }, 'must be a plain base URL without credentials, ?query or #fragment, e.g. "https://matrix.org"')
    .describe("The homeserver's client API base URL (what a client logs in to), e.g. https://matrix.org."),
  room: z.string().refine((r) => ROOM_ALIAS.test(r) || ROOM_ID.test(r), `must be a room alias or a room id: ${ROOM_EXAMPLE}`)
    .describe(`The room the lines are posted in: ${ROOM_EXAMPLE}. The relay's account joins it when it is not in it yet.`),
  token_env: z.string().regex(ENV_NAME, 'must name an environment variable, e.g. "MATRIX_TOKEN"')
    .describe("The variable holding the access token of the relay's Matrix account (never the token itself)."),
});
export type MatrixOptions = z.infer<typeof MatrixOptions>;

/** The whole of one say(): every request, and any wait a rate limit asks for. */
const DEFAULT_TIMEOUT_MS = 30_000;
const API = "/_matrix/client/v3";

interface MatrixAnswer {
  status: number;
  body: { errcode?: string; error?: string; retry_after_ms?: number; room_id?: string; event_id?: string };
  retryAfterMs: number | undefined;
}

/**
 * The transaction id of a line: deterministic (a retry of the same key sends the same one) and
 * URL-safe (base64url of SHA-256). Scoped by the homeserver to the access token's device.
 */
export function matrixTxnId(key: string): string {
  return `openci.${createHash("sha256").update(key).digest("base64url")}`;
}

export function matrixTransport(sink: { id: string; matrix: MatrixOptions }, env: NodeJS.ProcessEnv, log: Logger, o: { timeoutMs?: number } = {}): ChatTransport {
  const parsed = MatrixOptions.safeParse(sink.matrix);
  if (!parsed.success) {
    throw new UnrecoverableError(`subscriber '${sink.id}': ${parsed.error.issues.map((i) => `matrix.${i.path.join(".")} ${i.message}`).join("; ")}`);
  }
  return new MatrixRoom(sink.id, parsed.data, env, log, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

class MatrixRoom implements ChatTransport {
  private readonly base: string;
  /** the room id of the configured alias, once resolved (cleared by close) */
  private roomId: string | undefined;
  private closing = new AbortController();

  constructor(private readonly id: string, private readonly o: MatrixOptions, private readonly env: NodeJS.ProcessEnv, private readonly log: Logger, private readonly timeoutMs: number) {
    this.base = o.homeserver.replace(/\/+$/, "");
    if (o.room.startsWith("!")) this.roomId = o.room;
  }

  async say(line: ChatLine): Promise<void> {
    const token = requiredEnv(this.env, this.o.token_env, `subscriber '${this.id}': ${this.o.token_env} is not set: set it to the access token of the relay's Matrix account on ${this.base}`);
    const deadline = Date.now() + this.timeoutMs;
    const roomId = await this.resolveRoom(token, deadline);
    // An empty m.mentions says the line mentions nobody: a job named like a member's display name pings no one (intentional mentions, v1.7).
    const content = { msgtype: "m.notice", body: line.text, format: "org.matrix.custom.html", formatted_body: line.html, "m.mentions": {} };
    const path = `${API}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(matrixTxnId(line.key))}`;
    let joined = false;
    for (;;) {
      const a = await this.request("PUT", path, token, content, deadline, "posting the line");
      if (a.status === 200 && typeof a.body.event_id === "string") {
        this.log.debug({ sink: this.id, room: roomId, eventId: a.body.event_id }, "matrix line posted");
        return;
      }
      // Not in the room (yet): the homeserver refuses the event (M_FORBIDDEN); join once and send again.
      if (a.status === 403 && a.body.errcode === "M_FORBIDDEN" && !joined) {
        await this.join(token, deadline);
        joined = true;
        continue;
      }
      if (a.status === 403) {
        throw new UnrecoverableError(`subscriber '${this.id}': ${this.base} refused the line in ${this.o.room} (${describe(a)}): give the relay's account the power level to post m.room.message there`);
      }
      throw this.failure("posting the line", a);
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.closing = new AbortController();
    if (!this.o.room.startsWith("!")) this.roomId = undefined;
  }

  /** The room id: the configured one, or the alias resolved once (`GET /directory/room/{roomAlias}`). */
  private async resolveRoom(token: string, deadline: number): Promise<string> {
    if (this.roomId) return this.roomId;
    const a = await this.request("GET", `${API}/directory/room/${encodeURIComponent(this.o.room)}`, token, undefined, deadline, `resolving ${this.o.room}`);
    if (a.status === 200 && typeof a.body.room_id === "string") {
      this.roomId = a.body.room_id;
      return this.roomId;
    }
    if (a.status === 404) {
      throw new UnrecoverableError(`subscriber '${this.id}': ${this.base} knows no room ${this.o.room} (${describe(a)}): check matrix.room, e.g. ${ROOM_EXAMPLE}`);
    }
    throw this.failure(`resolving ${this.o.room}`, a);
  }

  /** `POST /join/{roomIdOrAlias}` with the configured room (an alias lets the homeserver find servers to join through). */
  private async join(token: string, deadline: number): Promise<void> {
    const a = await this.request("POST", `${API}/join/${encodeURIComponent(this.o.room)}`, token, {}, deadline, `joining ${this.o.room}`);
    if (a.status === 200) {
      this.log.info({ sink: this.id, room: this.o.room }, "matrix room joined");
      return;
    }
    if (a.status === 403) {
      throw new UnrecoverableError(`subscriber '${this.id}': the relay's account may not join ${this.o.room} (${describe(a)}): invite it to the room, or make the room public`);
    }
    throw this.failure(`joining ${this.o.room}`, a);
  }

  /** One call, with the access token as a Bearer header; a 429 is waited out (Retry-After, else `retry_after_ms`) while the deadline allows. */
  private async request(method: "GET" | "PUT" | "POST", path: string, token: string, body: unknown, deadline: number, what: string): Promise<MatrixAnswer> {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`subscriber '${this.id}': ${what} on ${this.base} took longer than ${this.timeoutMs} ms`);
      let a: MatrixAnswer;
      try {
        const res = await fetch(`${this.base}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: "application/json", "user-agent": "openci-relay", ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          redirect: "error",
          signal: AbortSignal.any([AbortSignal.timeout(left), this.closing.signal]),
        });
        const text = await res.text();
        a = { status: res.status, body: parseJson(text), retryAfterMs: undefined };
        a.retryAfterMs = retryAfterMs(res.headers.get("retry-after"), a.body.retry_after_ms);
      } catch (error) {
        const e = error as Error;
        const why = e.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : e.name === "AbortError" ? "the subscriber was closed" : (e.cause as Error | undefined)?.message ?? e.message;
        throw new Error(`subscriber '${this.id}': ${what} on ${this.base} failed: ${why}`);
      }
      if (a.status !== 429) return a;
      const wait = a.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS;
      if (Date.now() + wait > deadline) {
        throw new Error(`subscriber '${this.id}': ${this.base} is rate limiting the relay (M_LIMIT_EXCEEDED) and asks to wait ${wait} ms, longer than the ${this.timeoutMs} ms left for ${what}: retried later`);
      }
      this.log.warn({ sink: this.id, waitMs: wait }, "matrix homeserver rate limited: waiting");
      await waitOutRateLimit(wait, this.closing.signal, this.id);
    }
  }

  /** A refused call in words: a bad token names its variable (for good); anything else says what the homeserver answered. */
  private failure(what: string, a: MatrixAnswer): Error {
    if (a.status === 401) {
      const why = a.body.errcode === "M_MISSING_TOKEN" ? "no access token reached it" : "it does not know the access token (never valid, logged out, or expired)";
      return new UnrecoverableError(`subscriber '${this.id}': ${this.base} refused ${what}: ${why} (${describe(a)}): check ${this.o.token_env}: it must hold a current access token of the relay's account on this homeserver`);
    }
    return new Error(`subscriber '${this.id}': ${what} on ${this.base} answered ${describe(a)}`);
  }
}

function describe(a: MatrixAnswer): string {
  const detail = [a.body.errcode, a.body.error].filter((s) => typeof s === "string" && s !== "").join(" ");
  return `${a.status}${detail ? ` ${detail.slice(0, 200)}` : ""}`;
}

function parseJson(text: string): MatrixAnswer["body"] {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" ? (v as MatrixAnswer["body"]) : {};
  } catch {
    return {};
  }
}

/** RFC 9110 Retry-After (seconds or an HTTP date), else the deprecated `retry_after_ms`; undefined when neither says. */
function retryAfterMs(header: string | null, bodyMs: unknown): number | undefined {
  return retryAfterHeaderMs(header) ?? (typeof bodyMs === "number" && Number.isFinite(bodyMs) && bodyMs >= 0 ? Math.ceil(bodyMs) : undefined);
}
