import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { key } from "../queue/names.js";
import { forgeCall } from "./errors.js";
import type { GithubApps } from "./github-apps.js";

/** GitHub keeps deliveries for redelivery this long; a little less, so an attempt is never refused as too old. */
const WINDOW_MS = 71 * 3600 * 1000;
/** Redelivery attempts asked for one delivery (one per reconciler round) before giving up on it. */
const MAX_ATTEMPTS = 5;
/**
 * After asking for a delivery's redelivery, how long before asking again: GitHub redelivers within
 * seconds, but its new attempt is listed only once the relay has answered it, so a round that
 * comes sooner (a short OPENCI_RECONCILE_MS, a busy relay) would ask twice for one delivery.
 */
const ASK_AGAIN_AFTER_MS = 10 * 60_000;
/** Pages of 100 deliveries read per round, newest first; the window usually ends sooner. */
const MAX_PAGES = 20;

/**
 * Asks GitHub to redeliver the app's recent deliveries that failed (a 5xx or no answer: the relay
 * was down, or Redis could not take them), within GitHub's 3-day window. A delivery is judged by
 * all its attempts (one GUID): any 2xx and it is done. Each is asked for at most five times, at
 * most once every ten minutes.
 */
export async function redeliverFailed(apps: GithubApps, redis: Redis, log: Logger): Promise<string[]> {
  const app = await apps.appClient();
  const data = [];
  // Newest first, page by page (GitHub's cursor is in the Link header), until past the window.
  for (let page = 0, cursor: string | undefined; page < MAX_PAGES; page++) {
    const res = await forgeCall("listing the app's webhook deliveries", () => app.request("GET /app/hook/deliveries", { per_page: 100, ...(cursor ? { cursor } : {}) }));
    data.push(...res.data);
    const oldest = res.data[res.data.length - 1];
    cursor = /[?&]cursor=([^&>]+)[^>]*>;\s*rel="next"/.exec(String(res.headers.link ?? ""))?.[1];
    if (!cursor || !oldest || Date.now() - Date.parse(oldest.delivered_at) > WINDOW_MS) break;
  }
  const byGuid = new Map<string, typeof data>();
  for (const d of data) byGuid.set(d.guid, [...(byGuid.get(d.guid) ?? []), d]);
  const asked: string[] = [];
  for (const [guid, attempts] of byGuid) {
    if (attempts.some((a) => a.status_code >= 200 && a.status_code < 300)) continue;
    const latest = attempts.reduce((a, b) => (Date.parse(a.delivered_at) >= Date.parse(b.delivered_at) ? a : b));
    if (Date.now() - Date.parse(latest.delivered_at) > WINDOW_MS) continue;
    // 4xx answers were the relay refusing the delivery (a bad signature, a body too large): not retried.
    if (latest.status_code >= 400 && latest.status_code < 500) continue;
    // Once per delivery until its redelivery had time to be answered, whatever number of rounds (or processes) see it failed meanwhile.
    if ((await redis.set(key("redelivery-asked", guid), "1", "PX", ASK_AGAIN_AFTER_MS, "NX")) !== "OK") continue;
    const counter = key("redelivery", guid);
    const n = await redis.incr(counter);
    await redis.expire(counter, Math.ceil(WINDOW_MS / 1000));
    if (n > MAX_ATTEMPTS) continue;
    await forgeCall(`asking GitHub to redeliver delivery ${guid}`, () => app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: Number(latest.id) }));
    asked.push(guid);
  }
  if (asked.length > 0) log.warn({ deliveries: asked }, "reconcile: asked GitHub to redeliver failed deliveries");
  return asked;
}
