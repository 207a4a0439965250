import { classifyHttpError, ForgeError, fetchFailure } from "../forge/errors.js";
import { readCapped } from "../util/read-capped.js";
import { isLoopback, PurlError, repositoryUrl, type Purl } from "./purl.js";

/** What every registry client shares: one request, a timeout, a size cap, errors classified for the gate. */

export const REGISTRY_DEFAULTS = { timeoutMs: 20_000, maxBytes: 8 * 1024 * 1024, userAgent: "openci-relay" } as const;

/** The registry a package URL names (`repository_url`), else the type's public one; no trailing slash. */
export function registryBase(purl: Purl, publicRegistry: string, what: string): string {
  let url: URL | undefined;
  try {
    url = repositoryUrl(purl);
  } catch (err) {
    if (err instanceof PurlError) throw new ForgeError(`${what}: ${err.message}`, "config", { hint: err.hint });
    throw err;
  }
  return (url?.href ?? publicRegistry).replace(/\/+$/, "");
}

export interface RegistryAnswer {
  status: number;
  headers: Headers;
  /** the body, read for a 200 GET only */
  body: Buffer | undefined;
}

/**
 * One request to a registry, without credentials, redirects followed (the same scheme only, as fetch
 * does not downgrade https). A 200 or 404 (410) is the caller's to read; anything else is thrown as a
 * ForgeError: 401/403 `config` (the relay checks public artifacts), 429 `rate_limited`, 5xx, network
 * errors and timeouts `transient`, other 4xx `config` with `hint`.
 */
export async function registryRequest(method: "GET" | "HEAD", url: string, what: string, o: { accept?: string; signal?: AbortSignal | undefined; hint: string }): Promise<RegistryAnswer> {
  const parsed = new URL(url);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && isLoopback(parsed.hostname))) {
    throw new ForgeError(`${what}: ${parsed.protocol}//${parsed.host} is not https`, "config", { hint: "registries are reached over https (http only on loopback): fix repository_url" });
  }
  const timeout = AbortSignal.timeout(REGISTRY_DEFAULTS.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { Accept: o.accept ?? "application/json", "User-Agent": REGISTRY_DEFAULTS.userAgent }, signal, redirect: "follow" });
  } catch (err) {
    throw fetchFailure(err, what, { signal: o.signal, timeout, timeoutMs: REGISTRY_DEFAULTS.timeoutMs, slow: "the registry" });
  }
  if (res.status === 200 && method === "GET") {
    const body = await readCapped(res, REGISTRY_DEFAULTS.maxBytes, () => new ForgeError(`${what}: the answer is larger than ${REGISTRY_DEFAULTS.maxBytes} bytes`, "config", { hint: o.hint }));
    return { status: res.status, headers: res.headers, body };
  }
  await res.body?.cancel();
  if (res.status === 200 || res.status === 404 || res.status === 410) return { status: res.status, headers: res.headers, body: undefined };
  const e = classifyHttpError({ status: res.status, message: res.statusText, response: { headers: Object.fromEntries(res.headers) } }, what);
  if (e.kind !== "config") return Promise.reject(e);
  const hint = res.status === 401 || res.status === 403 ? "the relay checks public artifacts only, without credentials: make it public, or check repository_url" : o.hint;
  throw new ForgeError(e.message, "config", { status: res.status, hint });
}

/** A 200's body as JSON, or a `config` error: the address answers, but not as the registry's API. */
export function jsonOf(answer: RegistryAnswer, what: string, hint: string): unknown {
  try {
    return JSON.parse((answer.body ?? Buffer.alloc(0)).toString("utf8"));
  } catch {
    throw new ForgeError(`${what}: the answer is not JSON`, "config", { hint });
  }
}
