/**
 * Why a forge call failed, in the terms the queue needs: retry later (transient, rate_limited) or
 * never (config: a 4xx that only a person can fix, with `hint` saying how).
 */
export type ForgeErrorKind = "config" | "transient" | "rate_limited";

export class ForgeError extends Error {
  override name = "ForgeError";
  constructor(
    message: string,
    readonly kind: ForgeErrorKind,
    readonly options: { status?: number; retryAfterMs?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
  get status(): number | undefined {
    return this.options.status;
  }
  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }
  get hint(): string | undefined {
    return this.options.hint;
  }
}

interface HttpLikeError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/** Classifies an HTTP error from Octokit (or any client exposing status and headers). */
export function classifyHttpError(error: unknown, what: string, now: number = Date.now()): ForgeError {
  if (error instanceof ForgeError) return error;
  const e = error as HttpLikeError;
  const status = typeof e?.status === "number" ? e.status : undefined;
  const headers = e?.response?.headers ?? {};
  const detail = apiMessage(e);
  const retryAfterMs = retryAfter(headers, now);
  const rateLimited =
    status === 429 || (status === 403 && (retryAfterMs !== undefined || String(headers["x-ratelimit-remaining"]) === "0" || String(headers["ratelimit-remaining"]) === "0"));
  if (rateLimited) {
    return new ForgeError(`${what}: rate limited (${status})`, "rate_limited", { status, retryAfterMs, cause: error });
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408) {
    return new ForgeError(`${what}: ${status} ${detail}`, "config", { status, cause: error });
  }
  return new ForgeError(`${what}: ${status ?? "network error"} ${detail}`.trim(), "transient", { status, cause: error });
}

function apiMessage(e: HttpLikeError): string {
  const data = e?.response?.data as { message?: unknown } | undefined;
  if (data && typeof data.message === "string") return data.message;
  return e?.message ?? String(e);
}

function retryAfter(headers: Record<string, string | number | undefined>, now: number): number | undefined {
  const after = headers["retry-after"];
  if (after !== undefined && !Number.isNaN(Number(after))) return Number(after) * 1000;
  // GitHub: x-ratelimit-*; GitLab: RateLimit-* (both a reset time in epoch seconds)
  for (const prefix of ["x-ratelimit-", "ratelimit-"]) {
    const reset = headers[`${prefix}reset`];
    if (reset !== undefined && String(headers[`${prefix}remaining`]) === "0" && !Number.isNaN(Number(reset))) {
      return Math.max(0, Number(reset) * 1000 - now);
    }
  }
  return undefined;
}

/** Per HTTP status, what a person should do about a configuration error with that message. */
export type Hints = Record<number, (message: string) => string | undefined>;

/** Attaches the hint for a configuration error's status, if there is one. */
export function withHint(e: ForgeError, hints: Hints): ForgeError {
  const hint = e.status !== undefined ? hints[e.status]?.(e.message) : undefined;
  if (hint === undefined || e.kind !== "config") return e;
  return new ForgeError(e.message, e.kind, { ...e.options, hint });
}

/**
 * Runs one forge call; any failure becomes a classified ForgeError with its hint. `normalise`
 * adapts a client's error shape (gitbeaker keeps the status on `cause.response`).
 */
export async function forgeCall<T>(what: string, fn: () => Promise<T>, hints: Hints = {}, normalise: (e: unknown) => unknown = (e) => e): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw withHint(classifyHttpError(normalise(error), what), hints);
  }
}

/**
 * What to throw when a `fetch` (or reading its body) threw without an HTTP answer to classify: the
 * caller's own abort passes through as it is; the request's timeout and network errors are
 * `transient` (the next try may get through), `slow` saying who was slow. A ForgeError passes as it is.
 */
export function fetchFailure(err: unknown, what: string, o: { signal?: AbortSignal | undefined; timeout: AbortSignal; timeoutMs: number; slow: string }): unknown {
  if (err instanceof ForgeError) return err;
  if (o.signal?.aborted) return o.signal.reason;
  if (o.timeout.aborted) {
    return new ForgeError(`${what}: no complete answer within ${o.timeoutMs} ms`, "transient", { cause: err, hint: `${o.slow} is slow or unreachable; the next try may get through` });
  }
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return new ForgeError(`${what}: network error (${cause?.code ?? cause?.message ?? (err as Error).message})`, "transient", { cause: err });
}
