import type { CheckRun } from "../fakes/github/fake-github.js";
import type { Harness } from "./relay-harness.js";
import { downstreamChecks } from "./upstream.js";
import { waitFor } from "./wait-for.js";

/** The downstream repository of the real workflow_run examples. */
export const EXAMPLE_DOWNSTREAM = "octo-org/octo-repo";

export interface RunChange {
  id: number;
  repo?: string;
  action?: string;
  status?: string;
  conclusion?: string | null;
  title?: string;
  /** the event that started the run (default workflow_dispatch, as the relay's dispatches do) */
  event?: string;
  /** the workflow file that ran (default the example's .github/workflows/test.yml) */
  path?: string;
  /** when GitHub created the run (default now: a delivery about a run the relay just started) */
  createdAt?: string;
  /** the downstream repository is private (GitHub says so in every payload about it) */
  private?: boolean;
}

/** Sends the real completed workflow_run example, changed only where this run differs. */
export function sendRun(h: Harness, run: RunChange, deliveryId?: string) {
  const repo = run.repo ?? EXAMPLE_DOWNSTREAM;
  return h.send("workflow_run.completed", (p) => {
    p.action = run.action ?? "completed";
    p.workflow_run.id = run.id;
    p.workflow_run.status = run.status ?? "completed";
    p.workflow_run.conclusion = run.conclusion === undefined ? "success" : run.conclusion;
    p.workflow_run.html_url = `https://github.com/${repo}/actions/runs/${run.id}`;
    if (run.title !== undefined) p.workflow_run.display_title = run.title;
    p.workflow_run.event = run.event ?? "workflow_dispatch";
    if (run.path !== undefined) p.workflow_run.path = run.path;
    p.workflow_run.created_at = run.createdAt ?? new Date().toISOString();
    p.repository.full_name = repo;
    if (run.private !== undefined) p.repository.private = run.private;
  }, deliveryId === undefined ? {} : { id: deliveryId });
}

/** The downstream run id a check links to (the fake dispatch's run). */
export const runIdOf = (check: Pick<CheckRun, "details_url">) => Number(/\/runs\/(\d+)$/.exec(check.details_url ?? "")![1]);

/**
 * Waits until the relay's check `name` (on `sha`, if given) is in progress, and returns it. Up to
 * 20 s: a tag or check suite takes several jobs to become a dispatched run, and on a shared 2-core
 * machine (npm run test:stress) that has taken over 10 s.
 */
export function runningCheck(h: Harness, name: string, sha?: string): Promise<CheckRun> {
  return waitFor(`${name} in progress`, () =>
    downstreamChecks(h.github).find((c) => c.name === name && c.status === "in_progress" && (sha === undefined || c.head_sha === sha)), 20_000);
}
