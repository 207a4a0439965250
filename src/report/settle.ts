import { reportJobId } from "../queue/job-ids.js";

/** Views of a whole upstream commit, derived from its downstream checks: the roll-up check and the failure comment. */
export const VIEWS = ["rollup", "comment"] as const;
export type ViewKind = (typeof VIEWS)[number];

/** What the report queue pushes: one downstream's check ("sync", keyed by the check) or one view of a commit (keyed by the commit). */
export type PushName = "sync" | ViewKind;

/** Whether a push of this kind joins the states recorded while it waits (one waiting push per check or view). */
export function pushesJoin(name: string, settleMs: number | undefined): boolean {
  return name !== "sync" || Boolean(settleMs);
}

/**
 * The report queue's job pushing `key` at `version`. A view's push always joins later states: one
 * waiting push per view, which writes the latest state when it runs; states recorded while it runs
 * leave exactly one more after it, for the latest (BullMQ deduplication, keepLastIfActive). With a
 * settle time (OPENCI_REPORT_SETTLE_MS) every push waits that long first, and a check's pushes join
 * too, so states in quick succession (queued, then dispatched) are written once. Without one, each
 * check state is its own push, at once.
 */
export function pushJob(name: PushName, key: string, version: number, settleMs: number | undefined) {
  return {
    name,
    data: { checkKey: key, version },
    opts: {
      jobId: reportJobId(name === "sync" ? key : `${name}-${key}`, version),
      ...(settleMs ? { delay: settleMs } : {}),
      ...(pushesJoin(name, settleMs) ? { deduplication: { id: `${name}-${key}`, keepLastIfActive: true as const } } : {}),
    },
  };
}
