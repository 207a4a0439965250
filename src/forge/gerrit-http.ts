import type { z } from "zod";
import { classifyHttpError, fetchFailure, ForgeError } from "./errors.js";
import { readCapped } from "../util/read-capped.js";

/**
 * One call to Gerrit's REST API (Documentation/rest-api.txt): anonymous at `<base>/<path>`, or as
 * an account at `<base>/a/<path>` with HTTP basic auth (the account's HTTP password, from its
 * Settings → HTTP Credentials). A JSON answer starts with Gerrit's `)]}'` line against cross-site
 * script inclusion, which is stripped before parsing; every answer is checked with a zod schema.
 * An error answer's body is Gerrit's plain-text message, kept (shortened) in the error.
 */

export interface GerritAuth {
  user: string;
  password: string;
}

export interface GerritConnection {
  /** the server's base URL, with its context path if it has one: https://review.opendev.org, https://gerrit.onap.org/r */
  url: string;
  auth?: GerritAuth | undefined;
  /** the whole exchange, body included (default 20 s) */
  timeoutMs?: number | undefined;
  /** the largest answer read (default 16 MiB) */
  maxBytes?: number | undefined;
}

export const GERRIT_HTTP_DEFAULTS = { timeoutMs: 20_000, maxBytes: 16 * 1024 * 1024, userAgent: "openci-relay" } as const;

/** The XSSI guard Gerrit puts before every JSON answer (rest-api.txt, "Output Format"). */
export const XSSI_PREFIX = ")]}'";

const URL_HINT = "give the Gerrit server's address with its context path if it has one (https://review.opendev.org, https://gerrit.onap.org/r)";

/** What to tell a person about a configuration error (a 4xx other than 429), by status; undefined: the general hint. */
export type GerritHints = (status: number, text: string) => string | undefined;

export interface GerritCall<T> {
  method: "GET" | "POST";
  /** below the base URL (and `/a`), starting with `/`; path segments already encoded */
  path: string;
  query?: [string, string][];
  body?: unknown;
  /** under `/a/` with basic auth (the connection must have credentials) */
  authenticated: boolean;
  schema: z.ZodType<T>;
  /** what the call does, for error messages: "reading the tags of openstack/nova" */
  what: string;
  hints?: GerritHints;
}

/** The base URL without a trailing slash, checked: http(s) only (http on loopback only), no credentials, query or fragment. */
export function gerritBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ForgeError(`${JSON.stringify(url)} is not a URL`, "config", { hint: URL_HINT });
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
    throw new ForgeError(`${url}: a Gerrit server is reached over https (http only on loopback)`, "config", { hint: URL_HINT });
  }
  if (u.username || u.password) throw new ForgeError(`${u.host}: the Gerrit URL must not carry credentials`, "config", { hint: "give the account through user_env / password_env, not in the URL" });
  if (u.search || u.hash) throw new ForgeError(`${url}: a Gerrit URL has no ?query or #fragment`, "config", { hint: URL_HINT });
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** A project name or another id as one path segment ("openstack/nova" → "openstack%2Fnova", rest-api.txt "Encoding"). */
export const segment = (id: string): string => encodeURIComponent(id);

export class GerritHttp {
  readonly base: string;
  constructor(private readonly c: GerritConnection) {
    this.base = gerritBase(c.url);
  }

  get user(): string | undefined {
    return this.c.auth?.user;
  }

  async call<T>(o: GerritCall<T>): Promise<T> {
    if (o.authenticated && !this.c.auth) throw new Error(`${o.what}: an authenticated Gerrit call needs credentials`);
    const url = new URL(`${this.base}${o.authenticated ? "/a" : ""}${o.path}`);
    for (const [k, v] of o.query ?? []) url.searchParams.append(k, v);
    const timeoutMs = this.c.timeoutMs ?? GERRIT_HTTP_DEFAULTS.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const headers: Record<string, string> = { Accept: "application/json", "User-Agent": GERRIT_HTTP_DEFAULTS.userAgent };
    if (o.authenticated && this.c.auth) headers.Authorization = `Basic ${Buffer.from(`${this.c.auth.user}:${this.c.auth.password}`).toString("base64")}`;
    if (o.body !== undefined) headers["Content-Type"] = "application/json; charset=UTF-8";
    let status = 0;
    let text: string;
    let type: string;
    try {
      const res = await fetch(url, { method: o.method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), signal: timeout, redirect: "follow" });
      status = res.status;
      type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      const maxBytes = this.c.maxBytes ?? GERRIT_HTTP_DEFAULTS.maxBytes;
      const body = await readCapped(res, maxBytes, () => new ForgeError(`${o.what}: Gerrit's answer is larger than ${maxBytes} bytes`, "config", { hint: URL_HINT }));
      text = body.toString("utf8");
      if (status < 200 || status > 299) throw this.statusError(o, status, text, Object.fromEntries(res.headers));
    } catch (err) {
      throw fetchFailure(err, o.what, { timeout, timeoutMs, slow: `the Gerrit server ${this.base}` });
    }
    return this.parse(o, text, type);
  }

  private parse<T>(o: GerritCall<T>, text: string, type: string): T {
    const notApi = (why: string) => new ForgeError(`${o.what}: ${this.base} did not answer as Gerrit's REST API (${why})`, "config", {
      hint: `${URL_HINT}; a login page means the server wants a signed-in browser, not the REST API`,
    });
    if (type === "text/html" || type === "application/xhtml+xml") throw notApi(`a web page, ${type}`);
    // Gerrit always sends the guard line; it is stripped wherever it is (with or without a newline after it).
    const json = text.startsWith(XSSI_PREFIX) ? text.slice(XSSI_PREFIX.length) : text;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      throw notApi("not JSON");
    }
    const parsed = o.schema.safeParse(value);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw notApi(`unexpected shape${first ? ` at ${first.path.join(".") || "the top"}: ${first.message}` : ""}`);
    }
    return parsed.data;
  }

  private statusError(o: GerritCall<unknown>, status: number, text: string, headers: Record<string, string>): ForgeError {
    const message = text.replace(/\s+/g, " ").trim().slice(0, 300);
    const classified = classifyHttpError({ status, message: message || String(status), response: { headers } }, o.what);
    if (classified.kind !== "config") return classified;
    const hint = o.hints?.(status, message) ?? this.defaultHint(o, status);
    return new ForgeError(`${o.what}: ${status}${message ? ` ${message}` : ""}`, "config", { status, hint });
  }

  private defaultHint(o: GerritCall<unknown>, status: number): string {
    if (status === 401 || status === 403) {
      return o.authenticated
        ? `Gerrit refused the account ${this.c.auth?.user} at ${this.base}: check user_env / password_env (the account's HTTP password, from Settings → HTTP Credentials, not a login password) and that the account has Read access`
        : `${this.base} refuses anonymous reads: give the map entry user_env / password_env of an account with Read access`;
    }
    if (status === 404) return `Gerrit has nothing at ${o.path} visible to ${o.authenticated ? `the account ${this.c.auth?.user}` : "anonymous users"}: ${URL_HINT}`;
    return `Gerrit refused the request (${status}): check the map entry's url and project`;
  }
}
