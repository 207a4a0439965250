import { CID } from "multiformats/cid";
import type { CheckConclusion } from "../forge/run-state.js";
import type { HistoryRecord, ReleaseRecord } from "./record.js";

/** The CDEvents release the relay speaks (types at version 0.3.0). */
export const CDEVENTS_SPEC_VERSION = "0.5.1";

export const CDEVENT_TYPES = {
  artifactPublished: "dev.cdevents.artifact.published.0.3.0",
  pipelineRunQueued: "dev.cdevents.pipelinerun.queued.0.3.0",
  pipelineRunStarted: "dev.cdevents.pipelinerun.started.0.3.0",
  pipelineRunFinished: "dev.cdevents.pipelinerun.finished.0.3.0",
  testOutputPublished: "dev.cdevents.testoutput.published.0.3.0",
  /** custom events (CDEvents' `dev.cdeventsx` namespace) for what the spec has no type for */
  gateDecided: "dev.cdeventsx.openci-gate.decided.0.1.0",
  changeTested: "dev.cdeventsx.openci-change.tested.0.1.0",
} as const;
export type CDEventType = (typeof CDEVENT_TYPES)[keyof typeof CDEVENT_TYPES];

type Link =
  | { linkType: "PATH"; from: { contextId: string } }
  | { linkType: "RELATION"; linkKind: string; target: { contextId: string } };

export interface CDEvent {
  context: {
    specversion: string;
    id: string;
    source: string;
    type: CDEventType;
    timestamp: string;
    chainId?: string;
    links?: Link[];
  };
  subject: { id: string; source?: string; content: Record<string, unknown> };
  /** the relay's record itself (JSON, links as {"/": cid}) */
  customData: Record<string, unknown>;
  customDataContentType: "application/json";
}

type Outcome = "success" | "failure" | "cancel" | "error";

/** Every conclusion a downstream run can end with, as a CDEvents pipeline run outcome. */
const OUTCOME: Record<CheckConclusion, Outcome> = {
  success: "success",
  neutral: "success",
  failure: "failure",
  cancelled: "cancel",
  skipped: "cancel",
  timed_out: "error",
  action_required: "error",
};

/**
 * A record as a CDEvent: its CID is the event id (a redelivery carries the same id), the release
 * it belongs to is the chain id, and its links to earlier records are CDEvents links.
 */
export function toCDEvent(cid: string, record: HistoryRecord, source: string): CDEvent {
  const { type, subject } = typeAndSubject(cid, record);
  const links = linksOf(record);
  const chainId = record.kind === "release" ? cid : link(record, "release");
  return {
    context: {
      specversion: CDEVENTS_SPEC_VERSION, id: cid, source, type, timestamp: record.at,
      ...(chainId ? { chainId } : {}),
      ...(links.length > 0 ? { links } : {}),
    },
    subject,
    customData: JSON.parse(JSON.stringify(record)) as Record<string, unknown>,
    customDataContentType: "application/json",
  };
}

function typeAndSubject(cid: string, r: HistoryRecord): { type: CDEventType; subject: CDEvent["subject"] } {
  switch (r.kind) {
    case "release":
      if (r.source === "pull_request" || r.source === "change") {
        return { type: CDEVENT_TYPES.changeTested, subject: { id: `${r.project}@${r.tag}`, content: { project: r.project, repo: r.repo, ref: r.tag, sha: r.sha } } };
      }
      return { type: CDEVENT_TYPES.artifactPublished, subject: { id: releasePurl(r), content: {} } };
    case "trigger":
      if (r.outcome === "triggered") {
        return { type: CDEVENT_TYPES.pipelineRunQueued, subject: { id: r.run, content: { pipelineName: r.downstream, ...uri(r.pipeline?.url) } } };
      }
      return {
        type: CDEVENT_TYPES.pipelineRunFinished,
        subject: { id: r.run, content: { pipelineName: r.downstream, ...uri(r.pipeline?.url), outcome: "error", errors: `${r.outcome}: ${r.reason ?? ""}`.trim() } },
      };
    case "run":
      if (r.state === "completed") {
        const outcome = OUTCOME[r.conclusion ?? "neutral"];
        const errors = r.conclusion === "timed_out" ? "the downstream did not report in time"
          : r.failedJobs.length > 0 ? `failing jobs: ${r.failedJobs.join(", ")}` : undefined;
        return {
          type: CDEVENT_TYPES.pipelineRunFinished,
          subject: { id: r.run, content: { pipelineName: r.downstream, ...uri(r.url), outcome, ...(errors ? { errors } : {}) } },
        };
      }
      if (r.state === "in_progress" && uri(r.url).uri) {
        return { type: CDEVENT_TYPES.pipelineRunStarted, subject: { id: r.run, content: { pipelineName: r.downstream, uri: r.url } } };
      }
      return { type: CDEVENT_TYPES.pipelineRunQueued, subject: { id: r.run, content: { pipelineName: r.downstream, ...uri(r.url) } } };
    case "gate":
      return {
        type: CDEVENT_TYPES.gateDecided,
        subject: { id: r.run, content: { check: r.check, decision: r.decision, upstream: r.upstream, downstream: r.downstream, ...(r.conclusion ? { conclusion: r.conclusion } : {}) } },
      };
    case "test-output":
      return {
        type: CDEVENT_TYPES.testOutputPublished,
        subject: { id: cid, content: { outputType: outputType(r.name), format: r.format, ...uri(r.url) } },
      };
  }
}

/**
 * The release as a package URL: the first of the project's artifacts (at the tag's version), else
 * the repository itself (pkg:github/owner/repo@tag, pkg:gitlab/group/project@tag; a git host's,
 * which purl has no type for, as pkg:generic/<name>@tag?vcs_url=git+<url>).
 */
export function releasePurl(r: Pick<ReleaseRecord, "artifacts" | "forge" | "repo" | "tag">): string {
  if (r.artifacts[0]) return r.artifacts[0];
  if (r.forge === "git") {
    const name = r.repo.replace(/\/+$/, "").split("/").at(-1)!.replace(/\.git$/, "");
    return `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(r.tag)}?vcs_url=${encodeURIComponent(`git+${r.repo}`)}`;
  }
  return `pkg:${r.forge}/${r.repo.split("/").map(encodeURIComponent).join("/")}@${encodeURIComponent(r.tag)}`;
}

function outputType(name: string): "report" | "video" | "image" | "log" | "other" {
  if (/\.(log|txt)$/i.test(name) || /\blogs?\b/i.test(name)) return "log";
  if (/\.(png|jpe?g|gif|svg)$/i.test(name)) return "image";
  if (/\.(mp4|webm)$/i.test(name)) return "video";
  if (/(report|junit|results?|coverage)/i.test(name)) return "report";
  return "other";
}

/** `uri` only when it is an absolute URL, as the schemas require. */
function uri(url: string | undefined): { uri?: string } {
  if (!url) return {};
  try {
    return new URL(url).protocol.startsWith("http") ? { uri: url } : {};
  } catch {
    return {};
  }
}

function link(r: HistoryRecord, field: string): string | undefined {
  const v = CID.asCID((r as Record<string, unknown>)[field]);
  return v ? v.toString() : undefined;
}

/** The record's links to earlier records: the one it directly follows as a PATH, each named link as a RELATION. */
function linksOf(r: HistoryRecord): Link[] {
  const named = (["previous", "trigger", "result", "after", "release"] as const)
    .map((field) => ({ field, cid: link(r, field) }))
    .filter((x): x is { field: (typeof x)["field"]; cid: string } => x.cid !== undefined);
  if (named.length === 0) return [];
  return [
    { linkType: "PATH", from: { contextId: named[0]!.cid } },
    ...named.map(({ field, cid }) => ({ linkType: "RELATION" as const, linkKind: field.toUpperCase(), target: { contextId: cid } })),
  ];
}
