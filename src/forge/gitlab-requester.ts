import { createRequesterFn, getMatchingRateLimiter, type RateLimiters } from "@gitbeaker/requester-utils";
import { countForgeCall } from "../metrics.js";

/**
 * An HTTP error from GitLab in the shape classifyHttpError reads: the status, the headers (so a
 * 429's Retry-After reaches the queue's backoff) and GitLab's message.
 */
export class GitlabHttpError extends Error {
  override name = "GitlabHttpError";
  constructor(
    readonly status: number,
    readonly response: { headers: Record<string, string>; data: { message: string } },
  ) {
    super(`${status} ${response.data.message}`);
  }
}

/**
 * gitbeaker's own handler retries 429 and 502 ten times within about 250 ms, ignoring Retry-After,
 * and then loses the status. The relay answers once and lets the BullMQ job retry no sooner than
 * GitLab asked, without holding a worker. gitbeaker's per-endpoint client-side limits still apply.
 */
async function requestOnce(endpoint: string, options: Record<string, unknown> = {}) {
  const { rateLimiters, prefixUrl, searchParams, method, asStream, agent: _agent, ...init } = options as {
    rateLimiters?: RateLimiters; prefixUrl?: string; searchParams?: string; method?: string; asStream?: boolean; agent?: unknown;
  } & RequestInit;
  await getMatchingRateLimiter(endpoint, rateLimiters, method)();
  const base = prefixUrl === undefined || prefixUrl.endsWith("/") ? prefixUrl : `${prefixUrl}/`;
  const url = new URL(endpoint, base);
  url.search = searchParams ?? "";
  let response: Response;
  try {
    response = await fetch(url, { ...init, method });
  } catch (error) {
    countForgeCall("gitlab", undefined);
    throw error;
  }
  const headers = Object.fromEntries(response.headers.entries());
  countForgeCall("gitlab", response.status, headers);
  if (!response.ok) throw new GitlabHttpError(response.status, { headers, data: { message: await errorMessage(response) } });
  if (asStream) return { body: response.body as never, headers, status: response.status };
  const type = (headers["content-type"] ?? "").split(";")[0]!.trim();
  const text = response.status === 204 ? "" : await response.text();
  const body = type === "application/json" && text ? (JSON.parse(text) as Record<string, unknown>) : text;
  return { body, headers, status: response.status };
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = parsed.message ?? parsed.error ?? text;
    return typeof m === "string" ? m : JSON.stringify(m);
  } catch {
    return text.slice(0, 200) || response.statusText;
  }
}

/**
 * A POST with a JSON body, answered like every gitbeaker call (one answer, status and headers
 * kept). For GitLab's pipeline trigger, whose token gitbeaker would put in the URL's query string,
 * where proxies and access logs keep it: the token travels in the body instead.
 */
export async function postJson(apiRoot: string, endpoint: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = await requestOnce(endpoint, {
    prefixUrl: apiRoot, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return answer.body as Record<string, unknown>;
}

export const relayRequesterFn = createRequesterFn((_, options) => Promise.resolve(options), requestOnce);
