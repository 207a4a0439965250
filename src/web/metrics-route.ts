import type { IncomingMessage, ServerResponse } from "node:http";
import type { Redis } from "ioredis";
import { Gauge, Registry } from "prom-client";
import { registry } from "../metrics.js";
import type { Queues } from "../queue/queues.js";

const STATES = ["waiting", "active", "delayed", "prioritized", "completed", "failed"] as const;

/** `GET /metrics`: Prometheus text; queue sizes and Redis health are read at scrape time. */
export function metricsHandler(queues: Queues, redis: Redis) {
  // Read at scrape time, for this relay's queues and Redis (the process-wide registry has the rest).
  const scraped = new Registry();
  const jobs = new Gauge({ name: "openci_jobs", help: "Jobs by queue and state", labelNames: ["queue", "state"] as const, registers: [scraped] });
  const redisUp = new Gauge({ name: "openci_redis_up", help: "1 while Redis answers a PING within a second", registers: [scraped] });
  const redisPing = new Gauge({ name: "openci_redis_ping_seconds", help: "How long Redis took to answer a PING", registers: [scraped] });
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== "/metrics") return false;
    if (req.method !== "GET") return false;
    const started = process.hrtime.bigint();
    const up = await Promise.race([redis.ping().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 1000).unref())]);
    redisUp.set(up ? 1 : 0);
    if (up) {
      redisPing.set(Number(process.hrtime.bigint() - started) / 1e9);
      for (const [name, q] of Object.entries({ events: queues.events, trigger: queues.trigger, report: queues.report, sinks: queues.sinks })) {
        const counts = await q.getJobCounts(...STATES);
        for (const state of STATES) jobs.set({ queue: name, state }, counts[state] ?? 0);
      }
    }
    const text = `${await registry.metrics()}\n${await scraped.metrics()}`;
    res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" }).end(text);
    return true;
  };
}
