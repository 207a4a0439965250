import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Compares a secret in constant time, whatever the lengths (both sides are hashed first). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(createHash("sha256").update(given).digest(), createHash("sha256").update(expected).digest());
}

/**
 * The body as text, or undefined when it is larger than `max` bytes: past the limit the rest is
 * read and dropped, never buffered, so the answer still reaches the sender.
 */
export function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on("end", () => resolve(size > max ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean | void> | boolean | void;

/**
 * A route that fails after its answer began (a stream, a download) cannot get a 500 any more:
 * the connection is cut and the error logged, instead of the server's 500 throwing again.
 */
export function guard(handler: Handler, log: { error(o: object, msg: string): void }): Handler {
  return async (req, res) => {
    try {
      return await handler(req, res);
    } catch (err) {
      if (!res.headersSent) throw err;
      log.error({ err, url: req.url }, "request failed after its answer began: connection closed");
      res.destroy();
      return true;
    }
  };
}

/** A JSON answer; returns true, as route handlers do when they took the request. */
export function reply(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
  return true;
}

/**
 * Who is asking, for per-client limits: the socket's remote address, or behind `trustedProxies`
 * reverse proxies the address the outermost trusted one saw (X-Forwarded-For, read from the right:
 * entries further left were written by the client and prove nothing).
 */
export function clientAddress(req: IncomingMessage, trustedProxies = 0): string {
  const socket = req.socket.remoteAddress ?? "unknown";
  if (trustedProxies === 0) return socket;
  const forwarded = String(req.headers["x-forwarded-for"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return forwarded[forwarded.length - trustedProxies] ?? forwarded[0] ?? socket;
}

/** Counts what each client address holds at once (streams, exports); 0 means no limit. */
export class PerAddress {
  private readonly held = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Takes a slot for `address`: the function that gives it back (once), or undefined when it holds `limit` already. */
  take(address: string): (() => void) | undefined {
    const n = this.held.get(address) ?? 0;
    if (this.limit > 0 && n >= this.limit) return undefined;
    this.held.set(address, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(address) ?? 1) - 1;
      if (left > 0) this.held.set(address, left);
      else this.held.delete(address);
    };
  }
}

/** 429 for a client address that holds its share already; `Retry-After` says when to try again. */
export function tooMany(res: ServerResponse, what: string, limit: number, variable: string): true {
  res.setHeader("retry-after", "10");
  return reply(res, 429, { error: `too many ${what} from your address at once (at most ${limit}, ${variable}): finish one, or retry later` });
}
