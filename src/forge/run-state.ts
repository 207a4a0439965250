/**
 * The words a run's or a check's state is told in, shared by the events, the history, the reports
 * and every system. A leaf module: it imports nothing, so the history and the map can use it
 * without importing the systems.
 */
export type CheckStatus = "queued" | "in_progress" | "completed";
export type CheckConclusion =
  | "success"
  | "failure"
  | "cancelled"
  | "timed_out"
  | "neutral"
  | "skipped"
  | "action_required";
