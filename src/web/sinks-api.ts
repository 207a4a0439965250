import type { IncomingMessage, ServerResponse } from "node:http";
import type { Job, Queue } from "bullmq";
import type { Logger } from "pino";
import { z } from "zod";
import type { SinkJob } from "../queue/job-data.js";
import { envNames } from "../sinks/sink-spec.js";
import type { SinkStats } from "../sinks/sink-stats.js";
import type { Sinks } from "../sinks/sinks.js";
import { admitted, admittedToAct } from "./admin-auth.js";
import { readBody, reply } from "./http.js";

export const SINKS_PATH = "/api/v1/sinks";
const REDRIVE_PATH = "/api/v1/sinks/redrive";
const MAX_LISTED = 1000;

const RedriveRequest = z.strictObject({
  sink: z.string().min(1).optional(),
  cid: z.string().min(1).optional(),
});

/**
 * The CDEvents subscribers (Bearer OPENCI_ADMIN_TOKEN): `GET /api/v1/sinks` lists each with its
 * counts, pending deliveries and dead letters; `POST /api/v1/sinks/redrive` queues dead letters
 * again (all, one sink's, or one record's; Bearer and a JSON body only), with their attempts reset.
 */
export function sinksApi(queue: Queue<SinkJob>, sinks: Sinks, stats: SinkStats, log: Logger, adminToken: string | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== SINKS_PATH && path !== REDRIVE_PATH) return false;
    if (!(req.method === "POST" ? admittedToAct : admitted)(req, res, adminToken, "subscribers")) return true;
    if (path === SINKS_PATH) {
      if (req.method !== "GET") return reply(res, 405, { error: "use GET" });
      const dead = await allFailed(queue);
      const pending = await queue.getJobs(["waiting", "delayed", "active", "prioritized"], 0, MAX_LISTED - 1);
      const list = await Promise.all(sinks.list().map(async (s) => ({
        id: s.id, kind: s.kind, url: s.shown, from: s.from, events: s.events ? [...s.events] : "all", projects: s.projects ? [...s.projects] : "all",
        attempts: s.attempts,
        secret: s.kind === "http" ? (s.secret ? "set" : `missing: set ${s.secretFrom}`) : s.unset.length ? `missing: set ${s.unset.join(", ")}` : envNames(s.spec).length ? "set" : "none",
        counts: await stats.get(s.id),
        pending: pending.filter((j) => j.data.sinkId === s.id).length,
        dead: dead.filter((j) => j.data.sinkId === s.id).map(describeDead),
      })));
      const known = new Set(list.map((s) => s.id));
      const orphans = dead.filter((j) => !known.has(j.data.sinkId)).map(describeDead);
      return reply(res, 200, { sinks: list, ...(orphans.length ? { deadOfRemovedSinks: orphans } : {}) });
    }
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    const raw = await readBody(req, 16 * 1024);
    if (raw === undefined) return reply(res, 413, { error: "body too large" });
    let json: unknown = {};
    try {
      if (raw.trim() !== "") json = JSON.parse(raw);
    } catch {
      return reply(res, 400, { error: "body is not JSON; send {} or {\"sink\": \"<id>\", \"cid\": \"<cid>\"}" });
    }
    const parsed = RedriveRequest.safeParse(json);
    if (!parsed.success) return reply(res, 400, { error: "invalid request", problems: parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"} ${i.message}`) });
    const { sink, cid } = parsed.data;
    if (sink !== undefined && !sinks.get(sink)) return reply(res, 404, { error: `no subscriber '${sink}' (OPENCI_SINKS or the map's subscribers)` });
    const chosen = (await allFailed(queue)).filter((j) => (sink === undefined || j.data.sinkId === sink) && (cid === undefined || j.data.cid === cid));
    for (const job of chosen) await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    log.info({ sink: sink ?? "(all)", cid: cid ?? "(all)", redriven: chosen.length }, "dead letters re-driven");
    return reply(res, 202, { redriven: chosen.length, jobs: chosen.map((j) => j.id) });
  };
}

/** Every dead letter, page by page (a sink's may sit behind another's). */
async function allFailed(queue: Queue<SinkJob>): Promise<Job<SinkJob>[]> {
  const out: Job<SinkJob>[] = [];
  for (let start = 0; ; start += MAX_LISTED) {
    const page = await queue.getFailed(start, start + MAX_LISTED - 1);
    out.push(...page.filter((j): j is Job<SinkJob> => j !== undefined && j !== null));
    if (page.length < MAX_LISTED) return out;
  }
}

function describeDead(j: Job<SinkJob>) {
  return { job: j.id, sink: j.data.sinkId, cid: j.data.cid, attempts: j.attemptsMade, error: j.failedReason, failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null };
}
