import { SYSTEM_KINDS } from "../forge/kinds.js";
import { CID } from "multiformats/cid";
import { z } from "zod";

/**
 * The immutable history: everything the relay sees or does, as records. A record is canonical
 * dag-json addressed by its CID and links by CID to the records it follows, so one upstream
 * release and everything it caused form a Merkle DAG. Nothing is rewritten: a correction is a
 * new record. Field names are part of the stable API (GET /api/v1/records/{cid}).
 */

/** A link to an earlier record (dag-json writes it as {"/": "<cid>"}). */
const Link = z.custom<CID>((v) => CID.asCID(v) !== null, "must be a CID link");

const Forge = z.enum(SYSTEM_KINDS);
const Sha = z.string().regex(/^[0-9a-f]{40}$/);
const Conclusion = z.enum(["success", "failure", "cancelled", "timed_out", "neutral", "skipped", "action_required"]);

const Common = {
  /** the record format's version */
  v: z.literal(1),
  /** when the relay saw or did it (RFC 3339) */
  at: z.iso.datetime({ offset: true }),
};

/** An upstream tagged a release (or, `pull_request`, a pull request's head is tested). */
export const ReleaseRecord = z.strictObject({
  ...Common,
  kind: z.literal("release"),
  project: z.string(),
  forge: Forge,
  host: z.string().optional(),
  repo: z.string(),
  /** the tag, or pull/<n> */
  tag: z.string(),
  sha: Sha,
  /** how the relay learnt of it: create, push, release (GitHub), tag_push (GitLab), pull_request, reconcile (the relay found it), watch (polling an upstream that sends no webhook, e.g. a git host) */
  source: z.enum(["create", "push", "release", "tag_push", "pull_request", "change", "reconcile", "watch", "stream"]),
  /** what the release publishes, as package URLs, from the project's `artifacts` in the map */
  artifacts: z.array(z.string()),
  /** why the relay triggered nothing for this release (e.g. a tag name it does not pass on); absent when it acted on it */
  refused: z.string().optional(),
});

/** One downstream pipeline the release caused: started, refused by the map, or failed to start. */
export const TriggerRecord = z.strictObject({
  ...Common,
  kind: z.literal("trigger"),
  release: Link.optional(),
  /** what made it run now: the gate that opened, the passing run before it in a cascade, the trigger it re-runs */
  after: Link.optional(),
  upstream: z.string(),
  downstream: z.string(),
  /** the relay run id given to the downstream */
  run: z.string(),
  attempt: z.number().int().min(0),
  chain: z.strictObject({ id: z.string(), path: z.array(z.string()) }).optional(),
  outcome: z.enum(["triggered", "refused", "failed"]),
  pipeline: z.strictObject({ kind: z.string(), id: z.string().optional(), url: z.string() }).optional(),
  reason: z.string().optional(),
});

/** An artifact of a downstream run: a GitHub Actions artifact, or a GitLab job's artifacts archive. */
export const Artifact = z.strictObject({ name: z.string(), url: z.string(), size: z.number().int().min(0).optional() });
export type Artifact = z.infer<typeof Artifact>;

/** A downstream run changed state. */
export const RunRecord = z.strictObject({
  ...Common,
  kind: z.literal("run"),
  release: Link.optional(),
  trigger: Link.optional(),
  /** the run's previous state */
  previous: Link.optional(),
  upstream: z.string(),
  downstream: z.string(),
  run: z.string(),
  forge: Forge,
  repo: z.string(),
  /** the downstream forge's run id (a workflow run, a check suite "suite-<id>", a pipeline) */
  runId: z.string().optional(),
  state: z.enum(["queued", "in_progress", "completed"]),
  conclusion: Conclusion.optional(),
  url: z.string().optional(),
  failedJobs: z.array(z.string()),
  artifacts: z.array(Artifact),
  /** how the relay learnt of it: workflow_run, check_suite, pipeline_hook, poll, timeout */
  source: z.string(),
});

/**
 * A release's artifact as an `after_artifacts` gate saw it: its package URL at the release's version,
 * whether it was published, and the digests its registry names, each also as a CID (raw codec), so the
 * history links to the artifact by content.
 */
export const GateArtifact = z.strictObject({
  purl: z.string(),
  published: z.boolean(),
  digests: z.array(z.strictObject({ name: z.string().optional(), digest: z.string(), cid: z.string().optional() })).optional(),
});
export type GateArtifact = z.infer<typeof GateArtifact>;

/**
 * A gate held a trigger back, let it through, or skipped it: an `after_check` (`check`: the upstream
 * check's name) or an `after_artifacts` gate (`check`: "after_artifacts", with the release's `artifacts`).
 */
export const GateRecord = z.strictObject({
  ...Common,
  kind: z.literal("gate"),
  release: Link.optional(),
  upstream: z.string(),
  downstream: z.string(),
  run: z.string(),
  check: z.string(),
  decision: z.enum(["waiting", "passed", "failed"]),
  conclusion: Conclusion.optional(),
  /** an `after_artifacts` gate: each artifact, published or missing, with its registry's digests */
  artifacts: z.array(GateArtifact).optional(),
  /** why a gate skipped the downstream, where the check's conclusion does not say (artifacts missing at the timeout) */
  reason: z.string().optional(),
});

/** An artifact of a failed downstream run, published so others can look at the failure. */
export const TestOutputRecord = z.strictObject({
  ...Common,
  kind: z.literal("test-output"),
  release: Link.optional(),
  /** the failed run's record */
  result: Link,
  upstream: z.string(),
  downstream: z.string(),
  run: z.string(),
  name: z.string(),
  url: z.string(),
  /** a MIME type guessed from the name (application/zip for archives) */
  format: z.string(),
});

export const HistoryRecord = z.discriminatedUnion("kind", [ReleaseRecord, TriggerRecord, RunRecord, GateRecord, TestOutputRecord]);
export type HistoryRecord = z.infer<typeof HistoryRecord>;
export type ReleaseRecord = z.infer<typeof ReleaseRecord>;
export type TriggerRecord = z.infer<typeof TriggerRecord>;
export type RunRecord = z.infer<typeof RunRecord>;
export type GateRecord = z.infer<typeof GateRecord>;
export type TestOutputRecord = z.infer<typeof TestOutputRecord>;
export type RecordKind = HistoryRecord["kind"];

/** The projects a record is about: the upstream first. */
export function projectsOf(r: HistoryRecord): string[] {
  return r.kind === "release" ? [r.project] : r.upstream === r.downstream ? [r.upstream] : [r.upstream, r.downstream];
}
