import { createHash } from "node:crypto";
import { PASSED, ROLLUP_NAME } from "../report/rollup.js";
import { neutralise, safeUrl } from "../report/neutralise.js";
import { ForgeError } from "./errors.js";
import { gerritChangeId, GerritReviews, type GerritReviewInput } from "./gerrit-review.js";
import type { GerritAuth } from "./gerrit-http.js";
import type { CheckConclusion, Checks, CommentIds, CommentMode, Reporter, RollupMember, StatusReport, StatusTarget } from "./roles.js";

/**
 * Results on a Gerrit change, third-party-CI style: nothing per downstream, and when the patch set's
 * roll-up has completed, one review message on that patch set (GerritReviews) with one line per
 * downstream in the form OpenDev's tools parse (`* openci: <downstream> <run url> : FAILURE`), mailing
 * the owner only on a failure, with a Verified vote only where the map entry says `vote: true`.
 *
 * Only a change's patch set (a target whose ref is refs/changes/…) is written to: a tag of a Gerrit
 * upstream shows nothing on Gerrit. The id returned for a completed roll-up is a digest of what was
 * posted (and of the relay runs it reports), so the same completed state pushed again posts nothing,
 * while a recheck (new relay runs) that completes posts a new message.
 */

export const CHANGE_REF = /^refs\/changes\/\d{2}\/(\d+)\/(\d+)$/;

/** Zuul's result words, which OpenDev's CI dashboards and comment parsers know. */
const RESULT: Record<CheckConclusion, string> = {
  success: "SUCCESS", failure: "FAILURE", cancelled: "ABORTED", timed_out: "TIMED_OUT",
  neutral: "NEUTRAL", skipped: "SKIPPED", action_required: "NOT_RUN",
};

export interface GerritReporterOptions {
  /** the server's URL (with any context path) */
  url: string;
  /** the map entry's HTTP credentials; undefined where it names none (then a change's result cannot be posted) */
  auth: () => GerritAuth | undefined;
  /** vote Verified ±1 besides the message (`vote: true`) */
  vote: boolean;
  /** the project's own CI (its Zuul), for gates */
  checks: () => Checks;
  timeoutMs?: number | undefined;
}

/** The change number and patch set of a change ref; undefined for anything else (a tag). */
export function changeOfRef(ref: string | undefined): { change: number; patchSet: number } | undefined {
  const m = ref ? CHANGE_REF.exec(ref) : null;
  return m ? { change: Number(m[1]), patchSet: Number(m[2]) } : undefined;
}

/** The review a completed roll-up becomes. */
export function changeReview(members: RollupMember[], patchSet: number, vote: boolean): GerritReviewInput {
  const failed = members.filter((m) => !PASSED.has(m.conclusion ?? "neutral")).length;
  const head = failed === 0
    ? `OpenCI: ${members.length === 1 ? "the downstream" : `all ${members.length} downstreams`} passed on patch set ${patchSet}.`
    : `OpenCI: ${failed} of ${members.length} downstreams failed on patch set ${patchSet}.`;
  const lines = members.map((m) => {
    // One token per field, as the parsers split them: the downstream's id and its run's URL.
    const name = neutralise(m.name.replace(/^openci: /, ""), 100).replace(/\s+/g, "_");
    const url = safeUrl(m.detailsUrl)?.replace(/\s/g, "%20") ?? "-";
    return `* openci: ${name} ${url} : ${RESULT[m.conclusion ?? "neutral"]}`;
  });
  return { message: [head, "", ...lines].join("\n"), failed: failed > 0, ...(vote ? { vote: failed > 0 ? -1 : 1 } : {}) };
}

export class GerritReporter implements Reporter {
  constructor(private readonly o: GerritReporterOptions) {}

  async reportStatus(target: StatusTarget, report: StatusReport, remoteId: string | undefined): Promise<string> {
    const change = changeOfRef(target.ref);
    // Per downstream nothing is posted, and nothing at all about a tag: the review message is the roll-up's.
    if (!change || report.name !== ROLLUP_NAME) return remoteId ?? "not-posted";
    if (report.status !== "completed" || !report.members || report.members.length === 0) return remoteId ?? "pending";
    const review = changeReview(report.members, change.patchSet, this.o.vote);
    const id = `review-${createHash("sha256").update(JSON.stringify([review, report.members.map((m) => m.runId)])).digest("hex").slice(0, 32)}`;
    if (id === remoteId) return id; // this very result is on the patch set already
    const auth = this.o.auth();
    if (!auth) {
      throw new ForgeError(`no account to post the result of change ${change.change} on ${this.o.url} with`, "config", {
        hint: "add user_env and password_env (Settings → HTTP Credentials of the account that reviews) to the project's gerrit entry in the map",
      });
    }
    await new GerritReviews({ url: this.o.url, auth, timeoutMs: this.o.timeoutMs }).review(gerritChangeId(target.repo, change.change), target.sha, review);
    return id;
  }

  /** The review message is the comment: nothing else is written. */
  async upsertComment(_target: StatusTarget, _mode: CommentMode, _marker: string, _body: string, known: CommentIds): Promise<CommentIds> {
    return known;
  }

  checksPassed(repo: string, sha: string): ReturnType<Reporter["checksPassed"]> {
    return this.o.checks().checksPassed(repo, sha);
  }

  checkState(repo: string, sha: string, name: string, ref?: string): ReturnType<Reporter["checkState"]> {
    return this.o.checks().checkState(repo, sha, name, ref);
  }
}
