import { z } from "zod";
import { CONCLUSION_OF_RESULT, JENKINS_RESULTS, jenkinsRunId, jobOfUrlPath } from "../forge/jenkins-status.js";
import type { CheckConclusion } from "../forge/run-state.js";
import { parsePayload, PayloadError } from "./parse-payload.js";
import { WebUrl } from "./payload-fields.js";

/**
 * The Notification plugin's JSON (jenkinsci/notification-plugin: JobState and BuildState, written by
 * Gson with lower-case underscored names and without null fields), as far as the relay reads it.
 * The plugin sends QUEUED and STARTED together when the build starts (its RunListener.onStarted),
 * COMPLETED when the build has a result, FINALIZED after the post-build steps (artifacts archived).
 * `url`s are relative to Jenkins' root (`job/folder/job/name/`, `job/folder/job/name/18/`);
 * `full_url` is absolute, and only there when Jenkins' URL is configured.
 */
export const JenkinsNotification = z.object({
  name: z.string(),
  url: z.string().max(2000),
  build: z.object({
    full_url: WebUrl.optional(),
    number: z.number().int().positive(),
    /** the build's queue item: since plugin 1.10 (2015) */
    queue_id: z.number().int().positive().optional(),
    phase: z.enum(["QUEUED", "STARTED", "COMPLETED", "FINALIZED"]),
    /** the build's result: absent until it has one */
    status: z.enum(JENKINS_RESULTS).optional(),
    url: z.string().max(2000),
    /** the build's parameters that are not sensitive, by name */
    parameters: z.record(z.string(), z.unknown()).optional(),
    timestamp: z.number().optional(),
  }),
});
export type JenkinsNotification = z.infer<typeof JenkinsNotification>;

/** What one notification says about a downstream's Jenkins build, in the relay's words. */
export interface JenkinsRunEvent {
  /** the job's full name, folder/name: the runner's place */
  job: string;
  /** `queue:<queue_id>`: the run id the trigger recorded */
  runId: string;
  /** OPENCI_RUN, where it is a relay run id: the trigger this build is for */
  relayRunId?: string;
  /** the build's number */
  number: number;
  state: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion;
  webUrl: string;
  /** when the plugin sent it (its `timestamp`, ISO 8601) */
  updatedAt?: string;
  deliveryId: string;
}

const RELAY_RUN_ID = /^trigger-[0-9a-f]{32}$/;

/**
 * A Notification plugin payload → a JenkinsRunEvent: QUEUED → queued, STARTED → in_progress,
 * COMPLETED and FINALIZED → completed with the result mapped as when polled (FINALIZED after
 * COMPLETED repeats the same state). Throws a PayloadError naming what is missing or wrong.
 */
export function jenkinsRunEvent(payload: unknown, deliveryId: string): JenkinsRunEvent {
  const p = parsePayload(JenkinsNotification, payload, "Jenkins notification");
  const b = p.build;
  if (b.queue_id === undefined) {
    throw new PayloadError("Jenkins notification payload rejected: build.queue_id is missing (the Notification plugin sends it since 1.10: update the plugin)");
  }
  if (b.full_url === undefined) {
    throw new PayloadError("Jenkins notification payload rejected: build.full_url is missing (set the Jenkins URL in Manage Jenkins > System > Jenkins Location)");
  }
  // The plugin sends both: the job's url and its build's; they must name the same job and this build.
  const job = jobOfUrlPath(p.url);
  if (!job || job.number !== undefined) throw new PayloadError(`Jenkins notification payload rejected: url ${JSON.stringify(p.url.slice(0, 100))} is not a job's (job/<folder>/job/<name>/)`);
  const fromBuild = jobOfUrlPath(b.url);
  if (!fromBuild || fromBuild.job !== job.job || fromBuild.number !== b.number) {
    throw new PayloadError(`Jenkins notification payload rejected: build.url ${JSON.stringify(b.url.slice(0, 100))} is not build ${b.number} of ${job.job}`);
  }
  const completed = b.phase === "COMPLETED" || b.phase === "FINALIZED";
  if (completed && b.status === undefined) throw new PayloadError(`Jenkins notification payload rejected: a ${b.phase} build without a status`);
  const run = b.parameters?.OPENCI_RUN;
  return {
    job: job.job,
    runId: jenkinsRunId(b.queue_id),
    ...(typeof run === "string" && RELAY_RUN_ID.test(run) ? { relayRunId: run } : {}),
    number: b.number,
    state: completed ? "completed" : b.phase === "STARTED" ? "in_progress" : "queued",
    ...(completed ? { conclusion: CONCLUSION_OF_RESULT[b.status!] } : {}),
    webUrl: b.full_url,
    ...(b.timestamp !== undefined && b.timestamp > 0 && b.timestamp < 8.64e15 ? { updatedAt: new Date(b.timestamp).toISOString() } : {}),
    deliveryId,
  };
}
