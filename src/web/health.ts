import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { reply } from "./http.js";

const PING_TIMEOUT_MS = 1000;

/** `GET /healthz`: the process is alive. `GET /readyz`: 200 only while Redis answers. */
export function healthHandler(redis: Redis) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || (path !== "/healthz" && path !== "/readyz")) return false;
    if (path === "/healthz") return reply(res, 200, { status: "ok" });
    const redisOk = await ping(redis);
    return reply(res, redisOk ? 200 : 503, { status: redisOk ? "ready" : "unavailable", redis: redisOk ? "ok" : "unreachable" });
  };
}

async function ping(redis: Redis): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), PING_TIMEOUT_MS)));
  try {
    return await Promise.race([redis.ping().then((p) => p === "PONG"), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
