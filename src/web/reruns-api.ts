import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { readBody, reply } from "./http.js";
import { admittedToAct } from "./admin-auth.js";
import { z } from "zod";
import type { RerunEvent } from "../events/rerun-event.js";
import { repoOf, type DependencyMap } from "../map/graph.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";
import type { CheckStore } from "../report/check-store.js";
import type { CommitViews } from "../report/commit-views.js";
import { rerunTargets } from "../report/rerun-targets.js";

export const RERUNS_PATH = "/api/v1/reruns";
const MAX_BODY = 64 * 1024;

export const RerunRequest = z.strictObject({
  /** the upstream project's id in the map */
  upstream: z.string().min(1),
  /** the upstream commit whose downstreams run again */
  sha: z.string().regex(/^[0-9a-f]{40}$/, "must be a full 40-character commit SHA"),
  /** one downstream's id; without it, every failed downstream of the commit */
  downstream: z.string().min(1).optional(),
});

/**
 * `POST /api/v1/reruns` (Bearer OPENCI_ADMIN_TOKEN, a JSON body): runs downstreams of an upstream commit again,
 * the same way the Re-run buttons on a GitHub check do; on GitLab the pipeline is retried. The
 * only way to re-run for a GitLab upstream, whose commit statuses have no buttons. Answers 202.
 */
export function rerunsApi(
  queues: Pick<Queues, "events">, map: () => DependencyMap, log: Logger, adminToken: string | undefined,
  state: { checks: CheckStore; views: CommitViews },
) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== RERUNS_PATH) return false;
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    if (!admittedToAct(req, res, adminToken, "re-runs")) return true;
    const raw = await readBody(req, MAX_BODY);
    if (raw === undefined) return reply(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return reply(res, 400, { error: "body is not JSON; send {\"upstream\": \"<project id>\", \"sha\": \"<commit>\", \"downstream\"?: \"<project id>\"}" });
    }
    const parsed = RerunRequest.safeParse(json);
    if (!parsed.success) {
      return reply(res, 400, { error: "invalid request", problems: parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"} ${i.message}`) });
    }
    const answer = await requestRerun(queues, map, log, state, parsed.data);
    return reply(res, answer.status, answer.body);
  };
}

export type RerunRequest = z.infer<typeof RerunRequest>;

/**
 * Queues a re-run after checking it against the map and what was triggered: 202 with the job, or
 * 404/409 saying why not. Shared by the JSON API and the dashboard's Re-run buttons.
 */
export async function requestRerun(
  queues: Pick<Queues, "events">, map: () => DependencyMap, log: Logger, state: { checks: CheckStore; views: CommitViews },
  request: RerunRequest,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { upstream: upstreamId, sha, downstream } = request;
  const upstream = map().project(upstreamId);
  if (!upstream) return { status: 404, body: { error: `no project '${upstreamId}' in the dependency map` } };
  if (downstream !== undefined && map().edge(upstreamId, downstream) === undefined) {
    return { status: 404, body: { error: `'${downstream}' does not depend on '${upstreamId}' in the dependency map` } };
  }
  const location = upstream.location;
  const event: RerunEvent = {
    forge: location.forge,
    ...(location.forge === "gitlab" && location.host ? { host: location.host } : {}),
    repo: repoOf(upstream),
    sha,
    scope: downstream === undefined ? { kind: "failed" } : { kind: "downstream", downstreamId: downstream },
    deliveryId: `api-${randomUUID()}`,
  };
  const { nothing } = await rerunTargets(state, event);
  if (nothing) return { status: nothing.status, body: { error: nothing.reason } };
  const jobId = deliveryJobId("api", event.deliveryId);
  await queues.events.add("rerun", event, { jobId });
  log.info({ upstream: upstreamId, sha, downstream: downstream ?? "(every failed one)", jobId }, "re-run requested through the API");
  return { status: 202, body: { queued: true, job: jobId, upstream: upstreamId, sha, downstream: downstream ?? null } };
}
