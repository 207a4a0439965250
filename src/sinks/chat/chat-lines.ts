import type { HistoryRecord } from "../../history/record.js";
import type { DownstreamStatus, DownstreamView } from "../../history/release-view.js";
import { neutralise, neutraliseList } from "../../report/neutralise.js";
import type { ChatLine } from "../transport.js";

/** What a chat subscriber is told about (its `events`): `releases` (default) and, on request, `failures`. */
export const CHAT_EVENTS = ["releases", "failures"] as const;
export type ChatEvent = (typeof CHAT_EVENTS)[number];

/** A release as a chat line names it, with its downstreams as the reader of this subscriber may see them. */
export interface ReleaseState {
  /** the release record's CID: a tag moved to another commit is another release, with its own summary */
  releaseCid: string;
  project: string;
  tag: string;
  downstreams: DownstreamView[];
  /** the release's page on the dashboard (OPENCI_PUBLIC_URL), when the relay has a public address */
  link: string | undefined;
}

/** One candidate line: `once` keys are said at most once per subscriber, whatever retries and races do. */
export interface Candidate extends ChatLine {
  /** the summary line: said when every downstream has ended, and only if not said before */
  summary: boolean;
}

const ENDED_WORD: Partial<Record<DownstreamStatus, string>> = {
  failed: "failed", timed_out: "timed out", cancelled: "was cancelled", skipped: "was skipped", refused: "was refused", error: "could not start",
};
const WAITING: ReadonlySet<DownstreamStatus> = new Set(["gated", "queued", "in_progress"]);
const GOOD: ReadonlySet<DownstreamStatus> = new Set(["passed", "neutral"]);
const MAX_NAMED = 5;

/** Every downstream has a result (passed, failed, timed out, skipped…): nothing is waiting or running. */
export function allEnded(downstreams: readonly DownstreamView[]): boolean {
  return downstreams.length > 0 && downstreams.every((d) => !WAITING.has(d.status));
}

/**
 * The lines one record may make a chat subscriber say, gerritbot style (one line each):
 * - with `failures`, each downstream failure as it happens (before the summary: after it, the summary named it);
 * - the release's summary, once every downstream has ended (`summary: true`; the caller says it once);
 * - after the summary was said, a re-run's new result as a follow-up line.
 * Text from downstreams (failed job names) is neutralised; project ids and tags come from the map
 * and the upstream's forge and are neutralised too, as any name the relay did not choose.
 */
export function chatLines(cid: string, record: HistoryRecord, release: ReleaseState, o: { failures: boolean; summarySaid: boolean; complete?: boolean }): Candidate[] {
  if (record.kind === "release" || record.kind === "test-output") return [];
  const view = release.downstreams.find((d) => d.project === record.downstream);
  // A record that is no longer the run's latest (a late in-progress, an earlier attempt) says nothing new.
  if (!view || view.cid !== cid || WAITING.has(view.status)) return [];
  const out: Candidate[] = [];
  // After the summary, a failure is news only as a re-run's result; the summary itself named the others.
  if (o.summarySaid) {
    if (view.attempts.length > 1) out.push(line(release, `re-run of ${neutralise(view.project, 100)} ${resultWords(view)}`, `result|${cid}`));
    return out;
  }
  if (o.failures && !GOOD.has(view.status)) out.push(line(release, `${neutralise(view.project, 100)} ${resultWords(view)}`, `failure|${cid}`));
  // `complete`: every downstream the release was handed to has ended, those this chat may not see too.
  if ((o.complete ?? true) && allEnded(release.downstreams)) out.push(summaryLine(release));
  return out;
}

/** `containerd v2.1.0: 3 of 4 downstreams passed · kata-containers failed (unit-tests) https://…` */
export function summaryLine(release: ReleaseState): Candidate {
  const all = release.downstreams;
  const passed = all.filter((d) => GOOD.has(d.status));
  const bad = all.filter((d) => !GOOD.has(d.status));
  let text = bad.length === 0
    ? (all.length === 1 ? "its downstream passed" : `all ${all.length} downstreams passed`)
    : `${passed.length} of ${all.length} downstream${all.length === 1 ? "" : "s"} passed`;
  if (bad.length > 0) {
    const named = bad.slice(0, MAX_NAMED).map((d) => `${neutralise(d.project, 100)} ${resultWords(d)}`);
    if (bad.length > MAX_NAMED) named.push(`and ${bad.length - MAX_NAMED} more`);
    text += ` · ${named.join(" · ")}`;
  }
  return { ...line(release, text, `summary|${release.releaseCid}`), summary: true };
}

/** `failed (unit-tests, lint)`, `passed`, `timed out` */
function resultWords(d: DownstreamView): string {
  const word = GOOD.has(d.status) ? "passed" : ENDED_WORD[d.status] ?? d.status.replace(/_/g, " ");
  const jobs = d.status === "failed" && d.failedJobs.length > 0 ? ` (${neutraliseList(d.failedJobs, 3, 60).join(", ")})` : "";
  return `${word}${jobs}`;
}

function line(release: ReleaseState, what: string, key: string): Candidate {
  const head = `${neutralise(release.project, 100)} ${neutralise(release.tag, 100)}`;
  const text = `${head}: ${what}${release.link ? ` ${release.link}` : ""}`;
  const html = `<b>${escapeHtml(head)}</b>: ${escapeHtml(what)}${release.link ? ` <a href="${escapeHtml(release.link)}">${escapeHtml(release.link)}</a>` : ""}`;
  return { text, html, key, summary: false };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
