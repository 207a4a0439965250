import type { SystemKind } from "../forge/kinds.js";
import type { Queue } from "bullmq";
import type { Logger } from "pino";
import type { CID } from "multiformats/cid";
import type { CheckConclusion, TriggerResult } from "../forge/roles.js";
import type { Project } from "../map/graph.js";
import type { SinkJob, TriggerJob } from "../queue/job-data.js";
import { sinkJobId, triggerJobId } from "../queue/job-ids.js";
import type { Sinks } from "../sinks/sinks.js";
import type { Privacy } from "../trust/privacy.js";
import { toCDEvent } from "./cdevent.js";
import type { AppendOptions, HistoryStore } from "./history-store.js";
import { projectsOf, type Artifact, type GateArtifact, type HistoryRecord, type ReleaseRecord } from "./record.js";
import { artifactForTag, formatPurl, parseArtifact } from "../artifacts/purl.js";
import { namedProjects } from "./visibility.js";

/** How many artifacts of one failed run are published as test outputs. */
const MAX_TEST_OUTPUTS = 20;

export interface RecorderOptions {
  /** the history (its public scope: the private one is derived from it) */
  store: HistoryStore;
  /** whether a record is private: asked before each record is written */
  privacy: Privacy;
  sinks: Sinks;
  queue: Pick<Queue<SinkJob>, "addBulk">;
  /** the first retry delay of a failed delivery (then doubling) */
  sinkRetryMs: number;
  log: Logger;
}

export interface RunState {
  forge: SystemKind;
  repo: string;
  runId?: string | undefined;
  state: "queued" | "in_progress" | "completed";
  conclusion?: CheckConclusion | undefined;
  url?: string | undefined;
  source: string;
}

/**
 * Turns what the flow sees and does into history records, each appended once (by an idempotency
 * key, so retries and redeliveries add nothing) and queued for every subscriber that wants it.
 *
 * Each record goes to the private scope when any project it names is private (or not known to be
 * public): a release by its project; everything of one relay run (trigger, gates, states, test
 * outputs) by its upstream, downstream and cascade path, so a run's records stay together. Links
 * are looked up in the record's own scope: a public record only ever links to public ones, a
 * private one to private ones first, then public ones.
 */
export class Recorder {
  constructor(private readonly o: RecorderOptions) {}

  get store(): HistoryStore {
    return this.o.store;
  }

  async release(r: {
    upstream: Project; forge: SystemKind; host?: string | undefined; repo: string; tag: string; sha: string;
    source: ReleaseRecord["source"]; refused?: string | undefined;
  }): Promise<CID> {
    const record: ReleaseRecord = {
      v: 1, kind: "release", at: now(), project: r.upstream.id, forge: r.forge, ...(r.host ? { host: r.host } : {}), repo: r.repo,
      tag: r.tag, sha: r.sha, source: r.source,
      artifacts: r.source === "pull_request" || r.source === "change" || r.refused !== undefined ? [] : releaseArtifacts(r.upstream, r.tag),
      ...(r.refused !== undefined ? { refused: r.refused } : {}),
    };
    const store = await this.storeFor(namedProjects(record));
    return this.append(store, record, { key: releaseKey(r.upstream.id, r.tag, r.sha), release: { project: r.upstream.id, tag: r.tag, sha: r.sha } });
  }

  async trigger(t: TriggerJob, outcome: "triggered" | "refused" | "failed", detail: { result?: TriggerResult; reason?: string } = {}): Promise<CID> {
    const store = await this.runStore(t);
    const after = (await store.byKey(artifactGateKey(t.runId, "passed")))
      ?? (await store.byKey(gateKey(t.runId, "passed")))
      ?? (t.rerunOf ? await store.byKey(triggerKey(t.rerunOf)) : undefined)
      ?? (t.chain ? await store.byKey(doneKey(t.chain.from ?? chainParentRunId(t))) : undefined);
    return this.append(store, {
      v: 1, kind: "trigger", at: now(), release: await releaseOf(store, t), after,
      upstream: t.upstream.projectId, downstream: t.downstreamId, run: t.runId, attempt: t.attempt,
      ...(t.chain ? { chain: { id: t.chain.id, path: t.chain.path } } : {}),
      outcome,
      ...(detail.result ? { pipeline: { kind: detail.result.kind, ...(detail.result.runId ? { id: detail.result.runId } : {}), url: detail.result.webUrl } } : {}),
      ...(detail.reason ? { reason: detail.reason } : {}),
    }, { key: triggerKey(t.runId), release: releaseRef(t) });
  }

  /**
   * A downstream run's new state, linked to its previous state (the chain of a run's states is
   * built under a compare-and-set on its head, so concurrent webhooks never fork it); a failed
   * run's artifacts are also published as test outputs. `triggered`: what the forge returned, so
   * a state that arrives before the trigger's own record still links to one.
   */
  async run(t: TriggerJob, run: RunState, failedJobs: string[] = [], artifacts: Artifact[] = [], triggered?: TriggerResult): Promise<CID> {
    const store = await this.runStore(t);
    const release = await releaseOf(store, t);
    const trigger = (await store.byKey(triggerKey(t.runId))) ?? (triggered ? await this.trigger(t, "triggered", { result: triggered }) : undefined);
    const key = `run|${t.runId}|${run.runId ?? ""}|${run.state}|${run.conclusion ?? ""}`;
    const done = run.state === "completed" ? [doneKey(t.runId)] : [];
    let cid: CID | undefined;
    for (let attempt = 0; cid === undefined; attempt++) {
      const previous = await store.head(t.runId);
      const appended = await this.appendIfHead(store, {
        v: 1, kind: "run", at: now(), release, trigger, previous,
        upstream: t.upstream.projectId, downstream: t.downstreamId, run: t.runId, forge: run.forge, repo: run.repo,
        ...(run.runId ? { runId: run.runId } : {}), state: run.state, ...(run.conclusion ? { conclusion: run.conclusion } : {}),
        ...(run.url ? { url: run.url } : {}), failedJobs, artifacts, source: run.source,
      }, { key, release: releaseRef(t), head: t.runId, expectHead: previous?.toString() ?? "", aliases: done });
      if (appended !== undefined) cid = appended;
      else if (attempt >= 20) throw new Error(`the history of run ${t.runId} keeps moving: state ${run.state} not recorded, will retry`);
    }
    if (run.state === "completed" && (run.conclusion === "failure" || run.conclusion === "timed_out")) {
      for (const a of artifacts.slice(0, MAX_TEST_OUTPUTS)) {
        await this.append(store, {
          v: 1, kind: "test-output", at: now(), release, result: cid, upstream: t.upstream.projectId, downstream: t.downstreamId, run: t.runId,
          name: a.name, url: a.url, format: formatOf(a.name),
        }, { key: `output|${t.runId}|${run.runId ?? ""}|${a.name}|${a.url}`, release: releaseRef(t) });
      }
    }
    return cid;
  }

  async gate(t: TriggerJob, check: string, decision: "waiting" | "passed" | "failed", conclusion?: CheckConclusion): Promise<CID> {
    const store = await this.runStore(t);
    return this.append(store, {
      v: 1, kind: "gate", at: now(), release: await releaseOf(store, t), upstream: t.upstream.projectId, downstream: t.downstreamId,
      run: t.runId, check, decision, ...(conclusion ? { conclusion } : {}),
    }, { key: gateKey(t.runId, decision), release: releaseRef(t) });
  }

  /**
   * An `after_artifacts` gate's decision, with each artifact as the registries answered (digests and
   * their CIDs once published): once per decision and run, like an `after_check` gate's, under keys of
   * its own so an edge with both gates records both.
   */
  async artifactGate(t: TriggerJob, decision: "waiting" | "passed" | "failed", artifacts: GateArtifact[], reason?: string): Promise<CID> {
    const store = await this.runStore(t);
    return this.append(store, {
      v: 1, kind: "gate", at: now(), release: await releaseOf(store, t), upstream: t.upstream.projectId, downstream: t.downstreamId,
      run: t.runId, check: ARTIFACT_GATE, decision, ...(decision === "failed" ? { conclusion: "skipped" as const } : {}), artifacts,
      ...(reason !== undefined ? { reason } : {}),
    }, { key: artifactGateKey(t.runId, decision), release: releaseRef(t) });
  }

  /** Where records about these projects go. */
  private async storeFor(projects: readonly string[]): Promise<HistoryStore> {
    return this.o.store.inScope(await this.o.privacy.anyPrivate(projects) ? "private" : "public");
  }

  /** Where every record of a relay run goes: decided by its upstream, downstream and cascade path. */
  private runStore(t: TriggerJob): Promise<HistoryStore> {
    return this.storeFor([...new Set([t.upstream.projectId, t.downstreamId, ...(t.chain?.path ?? [])])]);
  }

  /**
   * Appends, then queues the record for its subscribers, also when it was appended before: a job
   * that died between the two queues it on its retry (delivery job ids make that a no-op otherwise).
   */
  private async append(store: HistoryStore, record: HistoryRecord, opts: AppendOptions): Promise<CID> {
    const cid = await this.appendIfHead(store, record, opts);
    if (cid === undefined) throw new Error(`history: ${opts.key} conflicted without a head`);
    return cid;
  }

  /** As append; undefined (nothing appended) when `opts.expectHead` is no longer the run's head. */
  private async appendIfHead(store: HistoryStore, record: HistoryRecord, opts: AppendOptions): Promise<CID | undefined> {
    const { cid, created, conflict } = await store.append(record, opts);
    if (conflict) return undefined;
    const id = cid.toString();
    const type = toCDEvent(id, record, "/").context.type;
    const sinks = this.o.sinks.matching(type, projectsOf(record), store.scope);
    if (sinks.length > 0) {
      // A public record's job is as it always was; a private one's says so (its sink must accept private events).
      const scope = store.scope === "private" ? { scope: store.scope } : {};
      await this.o.queue.addBulk(sinks.map((s) => ({
        name: "deliver", data: { sinkId: s.id, cid: id, ...scope },
        opts: { jobId: sinkJobId(s.id, id), attempts: s.attempts, backoff: { type: "exponential", delay: this.o.sinkRetryMs } },
      })));
    }
    if (created) this.o.log.debug({ cid: id, kind: record.kind, scope: store.scope, sinks: sinks.map((s) => s.id) }, "history record appended");
    return cid;
  }
}

const now = () => new Date().toISOString();
const releaseKey = (project: string, tag: string, sha: string) => `release|${project}|${tag}|${sha}`;
const triggerKey = (runId: string) => `trigger|${runId}`;
const gateKey = (runId: string, decision: string) => `gate|${runId}|${decision}`;
const artifactGateKey = (runId: string, decision: string) => `gate|${runId}|artifacts|${decision}`;
/** The `check` of an `after_artifacts` gate's records. */
export const ARTIFACT_GATE = "after_artifacts";
/** a run's completed state, whatever its conclusion: what a cascade from it links to */
const doneKey = (runId: string) => `done|${runId}`;

function releaseOf(store: HistoryStore, t: TriggerJob): Promise<CID | undefined> {
  return store.byKey(releaseKey(t.upstream.projectId, t.upstream.tag, t.upstream.sha));
}

function releaseRef(t: TriggerJob) {
  return { project: t.upstream.projectId, tag: t.upstream.tag, sha: t.upstream.sha };
}

/** In a cascade, the relay run of the project before this one (whose passing run caused it). */
function chainParentRunId(t: TriggerJob): string {
  const path = t.chain!.path;
  return triggerJobId({ upstreamId: t.upstream.projectId, tag: t.upstream.tag, sha: t.upstream.sha, downstreamId: path[path.length - 2]! });
}

/**
 * The release's package URLs: the project's artifact patterns without wildcards, at the tag's
 * version (a leading "v" before a digit dropped): pkg:pypi/nova + 29.0.1 → pkg:pypi/nova@29.0.1. A
 * pattern with a version template (`@{tag}`, `@{version}`) or qualifiers is filled in as the artifact
 * gate reads it (artifactForTag); one that does not fit this tag is left out.
 */
export function releaseArtifacts(project: Pick<Project, "meta">, tag: string): string[] {
  const version = encodeURIComponent(tag.replace(/^v(?=\d)/, ""));
  return (project.meta?.artifacts ?? []).filter((p) => !p.includes("*")).flatMap((p) => {
    // As before for a plain name; a template or one with qualifiers (repository_url) the way the artifact gate reads it.
    if (!/\{(tag|version)\}|\?/.test(p)) return [`${p}@${version}`];
    try {
      return [formatPurl(artifactForTag(parseArtifact(p), tag))];
    } catch {
      return [];
    }
  });
}

function formatOf(name: string): string {
  if (/\.zip$/i.test(name) || !/\.[a-z0-9]+$/i.test(name)) return "application/zip";
  if (/\.(log|txt)$/i.test(name)) return "text/plain";
  if (/\.xml$/i.test(name)) return "application/xml";
  if (/\.json$/i.test(name)) return "application/json";
  if (/\.html?$/i.test(name)) return "text/html";
  if (/\.png$/i.test(name)) return "image/png";
  if (/\.tar\.gz$|\.tgz$/i.test(name)) return "application/gzip";
  return "application/octet-stream";
}
