import { createHash } from "node:crypto";

/**
 * Deterministic job ids: the same logical work always gets the same id, so BullMQ ignores a second
 * add (redeliveries, the create/push/release trio). BullMQ ids may not contain ':' nor be all digits.
 */
function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

export function deliveryJobId(forge: string, deliveryId: string): string {
  return `delivery-${forge}-${digest(deliveryId)}`;
}

/** One trigger per (upstream, tag, commit, downstream): also the relay run id given to the downstream. */
/**
 * The delivery id of a tag found without a webhook (polled, or streamed by Gerrit): the commit is
 * part of it (a moved tag is another release), and a tag both polled and streamed is one event.
 */
export function watchTagDeliveryId(upstreamId: string, tag: string, sha: string): string {
  return `watch-${upstreamId}-${tag}-${sha}`;
}

export function triggerJobId(t: { upstreamId: string; tag: string; sha: string; downstreamId: string }): string {
  return `trigger-${digest(t.upstreamId, t.tag, t.sha, t.downstreamId)}`;
}

/** Where a repository lives, as one string: forge, GitLab host (if not GITLAB_URL's), path; lower-cased. */
export function placeKey(p: { forge: string; host?: string | undefined; repo: string }): string {
  return [p.forge, (p.host ?? "").toLowerCase(), p.repo.toLowerCase()].join(":");
}

/**
 * The upstream check that shows one downstream on one upstream commit. A GitHub repository and its
 * GitLab mirror share commits: the forge and host keep their checks apart.
 */
export function checkKey(c: { upstream: { forge: string; host?: string | undefined; repo: string }; sha: string; name: string }): string {
  return digest(placeKey(c.upstream), c.sha, c.name);
}

export function reportJobId(checkKeyValue: string, version: number): string {
  return `report-${checkKeyValue}-${version}`;
}

export function timeoutJobId(relayRunId: string): string {
  return `timeout-${relayRunId}`;
}

/** A re-run of a trigger, asked for by one delivery: a new relay run id, the same for a redelivery. */
export function rerunJobId(previousRunId: string, deliveryId: string): string {
  return `trigger-${digest("rerun", previousRunId, deliveryId)}`;
}

/** One delivery of one record to one subscriber. */
export function sinkJobId(sinkId: string, cid: string): string {
  return `sink-${digest(sinkId, cid)}`;
}

/** One look of a trigger's artifact gate: the same round is one job, however often it is added. */
export function artifactGateJobId(relayRunId: string, round: number): string {
  return `artifacts-${relayRunId}-${round}`;
}

export function gatePollJobId(g: { forge: string; host?: string | undefined; repo: string; sha: string; name: string; round: number }): string {
  return `gate-poll-${digest(g.forge, g.host ?? "", g.repo, g.sha, g.name)}-${g.round}`;
}

export function pollJobId(relayRunId: string, round: number): string {
  return `poll-${relayRunId}-${round}`;
}

/** One poll of a watched upstream at a time, across every worker process: a second add while one waits or runs is ignored. */
export function watchJobId(upstreamId: string): string {
  return `watch-${digest("watch", upstreamId)}`;
}

/**
 * One batch of a system's watched upstreams, claimed together by one tick: the same set claimed
 * again while its batch still waits or runs (a backlog longer than their interval) is not queued twice.
 */
export function watchBatchJobId(forge: string, upstreamIds: readonly string[]): string {
  return `watch-batch-${digest("watch-batch", forge, ...[...upstreamIds].sort())}`;
}

/**
 * The delivery id of a Gerrit change event (stream-events has no id of its own): a patch set is one
 * event however often it is announced; a `recheck` is one event per comment (its author and time).
 */
export function changeDeliveryId(c: { server: string; change: number; patchSet: number; recheck?: { author: string | undefined; createdOn: number | undefined } | undefined }): string {
  const base = `change-${digest(c.server, String(c.change), String(c.patchSet))}-${c.change}-${c.patchSet}`;
  return c.recheck ? `${base}-recheck-${digest(c.recheck.author ?? "", String(c.recheck.createdOn ?? ""))}` : base;
}
