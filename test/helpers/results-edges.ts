import type { JobsOptions } from "bullmq";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import { getJson } from "./history.js";
import type { Ignored } from "./idle.js";
import type { Harness } from "./relay-harness.js";
import { waitFor } from "./wait-for.js";
import { withQueue, type QueueKey } from "./queue-client.js";

/** Moves the delayed jobs named `name` (and with an id `which` accepts) to waiting now: their time has come. Returns their ids. */
export function promoteDelayed(redisUrl: string, queue: QueueKey, name: string, which: (id: string) => boolean = () => true): Promise<string[]> {
  return withQueue(redisUrl, queue, async (q) => {
    const promoted: string[] = [];
    for (const job of await q.getDelayed()) {
      if (job.name !== name || !which(job.id!)) continue;
      await job.promote();
      promoted.push(job.id!);
    }
    return promoted;
  });
}

/** How BullMQ recorded a job: its state, what it returned or why it failed, and how many attempts it made. */
export interface JobOutcome {
  state: string;
  returnvalue: unknown;
  failedReason: string | undefined;
  attemptsMade: number;
}

export function jobOutcome(redisUrl: string, queue: QueueKey, jobId: string): Promise<JobOutcome | undefined> {
  return withQueue(redisUrl, queue, async (q) => {
    const job = await q.getJob(jobId);
    if (!job) return undefined;
    return { state: await job.getState(), returnvalue: job.returnvalue, failedReason: job.failedReason || undefined, attemptsMade: job.attemptsMade };
  });
}

/** The finished (completed or failed) jobs named `name`, oldest first. */
export function finishedJobs(redisUrl: string, queue: QueueKey, name: string): Promise<(JobOutcome & { id: string; data: unknown })[]> {
  return withQueue(redisUrl, queue, async (q) => {
    const jobs = (await q.getJobs(["completed", "failed"])).filter((j) => j?.name === name);
    jobs.sort((a, b) => (a.finishedOn ?? 0) - (b.finishedOn ?? 0));
    return Promise.all(jobs.map(async (j) => ({
      id: j.id!, data: j.data as unknown, state: await j.getState(), returnvalue: j.returnvalue, failedReason: j.failedReason || undefined, attemptsMade: j.attemptsMade,
    })));
  });
}

/**
 * Waits until `count` jobs named `name` were worked on: completed, failed, or waiting for a retry
 * (delayed); returns them. Sooner than an idle wait when a job fails and is retried with backoff.
 */
export async function settledJobs(redisUrl: string, queue: QueueKey, name: string, count = 1): Promise<{ id: string; state: string }[]> {
  return waitFor(`${count} ${queue}/${name} job(s) worked on`, () => withQueue(redisUrl, queue, async (q) => {
    const jobs = (await q.getJobs(["completed", "failed", "delayed"])).filter((j) => j?.name === name && (j.finishedOn !== undefined || j.attemptsMade > 0));
    if (jobs.length < count) return undefined;
    return Promise.all(jobs.map(async (j) => ({ id: j.id!, state: await j.getState() })));
  }));
}

/** Adds a job to one of the relay's queues, as the relay itself would (e.g. a poll scheduled earlier). */
export function addJob(redisUrl: string, queue: QueueKey, name: string, data: unknown, opts: JobsOptions): Promise<void> {
  return withQueue(redisUrl, queue, async (q) => {
    await q.add(name, data, opts);
  });
}

/** The data of the job `jobId` (e.g. a timeout job, to see its trigger). */
export function jobData<T>(redisUrl: string, queue: QueueKey, jobId: string): Promise<T | undefined> {
  return withQueue(redisUrl, queue, async (q) => (await q.getJob(jobId))?.data as T | undefined);
}

/** Every history record of `downstream` in the release `project@tag`, as the records API gives them (none: []). */
export async function downstreamRecords(h: Pick<Harness, "url">, project: string, tag: string, downstream: string): Promise<any[]> {
  const { status, body } = await getJson(h, `/api/v1/releases/${encodeURIComponent(project)}/${encodeURIComponent(tag)}`);
  if (status !== 200) return [];
  const cids: string[] = body.downstreams.filter((d: any) => d.project === downstream).flatMap((d: any) => d.records);
  return Promise.all(cids.map(async (cid) => (await getJson(h, `/api/v1/records/${cid}`)).body.record));
}

/** The metadata repository of maps (OPENCI_MAP_REPO) the edge tests change under a running relay. */
export const META = "openci/metadata";
export const MAP_REFRESH: Ignored = { queue: "events", name: "map-refresh", why: "the metadata repository is read again every 10 minutes" };

export const metadataRepo = (sha: string, map: string): FakeRepo => ({ installationId: 9, contents: { main: { sha, files: { "maps/f.yml": map } } } });

/** Waits for the relay's verdict on the map version `sha` of the metadata repository. */
export const mapTaken = (h: Harness, sha: string) => waitFor(`the map's check on ${sha.slice(0, 7)}`, () =>
  h.github.checkRuns.find((c) => c.name === "openci: map" && c.head_sha === sha && c.status === "completed"));

/** Pushes a new version of the map to the metadata repository and waits until the relay took it. */
export async function pushMap(h: Harness, sha: string, map: string): Promise<void> {
  h.github.repos[META]!.contents!.main = { sha, files: { "maps/f.yml": map } };
  await h.send("push.branch", (p) => Object.assign(p, { ref: "refs/heads/main", after: sha }, { repository: { ...p.repository, full_name: META } }));
  const check = await mapTaken(h, sha);
  if (check.conclusion !== "success") throw new Error(`map ${sha.slice(0, 7)} refused: ${check.output.summary ?? ""}`);
}

/** GitHub dispatches to `repo` (owner/name). */
export const dispatchesTo = (h: Harness, repo: string) =>
  h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);
