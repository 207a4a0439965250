import type { VisibilityStore } from "../trust/visibility-store.js";
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { readBody, reply, sameSecret } from "./http.js";
import { normaliseGitlab, normaliseGitlabBranchPush, normaliseGitlabDeclarationPush } from "../events/gitlab.js";
import { DECLARATION_PATH } from "../map/declaration-path.js";
import type { MapRepoSpec } from "../map/map-repo.js";
import { PayloadError } from "../events/parse-payload.js";
import { deliveryJobId } from "../queue/job-ids.js";
import type { Queues } from "../queue/queues.js";

export const GITLAB_WEBHOOK_PATH = "/api/gitlab/webhooks";
const MAX_BODY = 25 * 1024 * 1024;
/** Before the sender is known (only a project's own secret could match), a body is read up to this. */
const UNVERIFIED_MAX_BODY = 1024 * 1024;

export interface GitlabWebhookOptions {
  /** GITLAB_WEBHOOK_SECRET: accepted from every project */
  secret: string | undefined;
  /** GITLAB_URL's host: deliveries from it carry no host, others name theirs */
  defaultHost: string;
  /** The secret of the map project at this place (its `webhook_secret_env`), if it has one. */
  projectSecret: (path: string, host: string | undefined) => string | undefined;
  /** Whether any map project has its own secret (else a wrong global token is refused unread). */
  hasProjectSecrets: () => boolean;
  /** OPENCI_MAP_REPO: a push to it reads the maps again */
  mapRepo?: MapRepoSpec | undefined;
  /** whether to pass the sending project's visibility (`project.visibility_level`) on to the workers */
  visibility?: Pick<VisibilityStore, "set"> | undefined;
}

/**
 * `POST /api/gitlab/webhooks`: the X-Gitlab-Token is compared in constant time with the sending
 * project's own secret, or GITLAB_WEBHOOK_SECRET for a project of GITLAB_URL that has none
 * (anything else: 401), the body parsed
 * and normalised, and the work enqueued under the delivery's Idempotency-Key (or
 * X-Gitlab-Event-UUID), so GitLab's retries and "Resend Request" add nothing.
 */
export function gitlabWebhooks(queues: Pick<Queues, "events">, log: Logger, o: GitlabWebhookOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== GITLAB_WEBHOOK_PATH) return false;
    if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
    const token = String(req.headers["x-gitlab-token"] ?? "");
    const globalOk = o.secret !== undefined && sameSecret(token, o.secret);
    if (!globalOk && !o.hasProjectSecrets()) return refuse(req, res, log, o.secret === undefined);
    const raw = await readBody(req, globalOk ? MAX_BODY : UNVERIFIED_MAX_BODY);
    if (raw === undefined && !globalOk) return refuse(req, res, log, false);
    if (raw === undefined) return reply(res, 413, { error: `body larger than ${MAX_BODY} bytes` });
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(res, 400, { error: "body is not JSON" });
    }
    const path = projectPath(body);
    const host = instanceHost(req, body, o.defaultHost);
    const own = path === undefined ? undefined : o.projectSecret(path, host);
    // A project with its own secret speaks only with it; the shared secret speaks only for
    // GITLAB_URL's projects without one, so a delivery naming another instance (X-Gitlab-Instance,
    // web_url) cannot borrow it there.
    const sender = own !== undefined ? sameSecret(token, own) : globalOk && host === undefined;
    if (!sender) return refuse(req, res, log, false);

    const event = String(req.headers["x-gitlab-event"] ?? "");
    const deliveryId = String(req.headers["idempotency-key"] ?? req.headers["x-gitlab-event-uuid"] ?? createHash("sha256").update(raw).digest("hex"));
    const deliveryLog = log.child({ deliveryId, event, forge: "gitlab" });
    // The sender's visibility travels with the delivery's jobs; the worker keeps it before working on them.
    // 20 is public; internal (10, any signed-in user) and private (0) are not.
    // "Public" is believed only from a hook signed with the project's own secret: the shared one
    // could say it of any project. "Private" is believed from either (it only hides more).
    const level = o.visibility && path !== undefined ? visibilityLevel(body) : undefined;
    const word = level === undefined ? undefined : level === 20 ? (own !== undefined ? "public" as const : undefined) : "private" as const;
    const reported = word === undefined ? {} : { visibility: [{ forge: "gitlab" as const, repo: path!, ...(host ? { host } : {}), visibility: word, at: Date.now() }] };
    try {
      const push = o.mapRepo?.forge === "gitlab" && host === undefined ? normaliseGitlabBranchPush(event, body) : null;
      if (push && push.repo.toLowerCase() === o.mapRepo!.repo.toLowerCase() && push.branch === o.mapRepo!.ref) {
        await queues.events.add("map-refresh", { reason: "push", sha: push.sha, deliveryId, ...reported }, { jobId: deliveryJobId("gitlab", `${deliveryId}/map`) });
        deliveryLog.info({ repo: push.repo, sha: push.sha }, "metadata repository pushed: maps will be read again");
      }
      const declared = normaliseGitlabDeclarationPush(event, body, DECLARATION_PATH.gitlab);
      if (declared) {
        await queues.events.add("declaration", { forge: "gitlab", ...(host ? { host } : {}), repo: declared.repo, reason: "push", sha: declared.sha, deliveryId, ...reported }, {
          jobId: deliveryJobId("gitlab", `${deliveryId}/declaration`),
        });
        deliveryLog.info({ repo: declared.repo }, "declaration changed: it will be read again");
      }
      for (const work of normaliseGitlab({ event, body, deliveryId, host })) {
        const jobId = deliveryJobId("gitlab", work.name === "check" ? `${deliveryId}/check` : deliveryId);
        await queues.events.add(work.name, { ...work.data, ...reported }, { jobId });
        deliveryLog.info({ job: work.name, repo: work.data.repo }, "event enqueued");
      }
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      deliveryLog.warn({ reason: error.message }, "delivery ignored: payload rejected");
    }
    return reply(res, 200, { ok: true });
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, log: Logger, unconfigured: boolean): true {
  req.resume();
  if (unconfigured) log.warn("GitLab webhook refused: set GITLAB_WEBHOOK_SECRET and the same secret token on the webhook");
  return reply(res, 401, { error: "X-Gitlab-Token does not match" });
}

function visibilityLevel(body: unknown): number | undefined {
  const level = (body as { project?: { visibility_level?: unknown } } | null)?.project?.visibility_level;
  return typeof level === "number" ? level : undefined;
}

function projectPath(body: unknown): string | undefined {
  const path = (body as { project?: { path_with_namespace?: unknown } } | null)?.project?.path_with_namespace;
  return typeof path === "string" ? path : undefined;
}

/** The sending instance: X-Gitlab-Instance (GitLab 15.5+), else the project's web_url; undefined when it is GITLAB_URL's. */
function instanceHost(req: IncomingMessage, body: unknown, defaultHost: string): string | undefined {
  const candidates = [req.headers["x-gitlab-instance"], (body as { project?: { web_url?: unknown } } | null)?.project?.web_url];
  for (const c of candidates) {
    if (typeof c !== "string") continue;
    try {
      const host = new URL(c).host.toLowerCase();
      return host === defaultHost.toLowerCase() ? undefined : host;
    } catch {
      continue;
    }
  }
  return undefined;
}
