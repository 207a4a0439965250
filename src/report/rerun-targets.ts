import type { RerunEvent } from "../events/rerun-event.js";
import { checkKey } from "../queue/job-ids.js";
import type { CheckStore } from "./check-store.js";
import { checkName } from "./check-text.js";
import { CommitViews } from "./commit-views.js";
import { PASSED } from "./rollup.js";

/**
 * The relay run ids a re-run asks for, or why there is nothing to re-run: the downstream's check on
 * the commit (it must have finished), or every failed downstream of the commit. The API answers
 * with the reason; the worker re-runs the ids.
 */
export async function rerunTargets(
  deps: { checks: CheckStore; views: CommitViews },
  event: Pick<RerunEvent, "forge" | "host" | "repo" | "sha" | "scope">,
): Promise<{ runIds: string[]; nothing?: { status: 404 | 409; reason: string } }> {
  switch (event.scope.kind) {
    case "one":
      return { runIds: [event.scope.relayRunId] };
    case "downstream": {
      const id = event.scope.downstreamId;
      const stored = await deps.checks.get(checkKey({ upstream: event, sha: event.sha, name: checkName(id) }));
      if (!stored) return { runIds: [], nothing: { status: 404, reason: `'${id}' was not triggered for ${event.repo}@${event.sha}` } };
      if (stored.report.status !== "completed") {
        return { runIds: [], nothing: { status: 409, reason: `'${id}' has not finished on ${event.repo}@${event.sha} (${stored.report.status.replace("_", " ")}): re-run it once it has` } };
      }
      return { runIds: [stored.report.externalId] };
    }
    case "failed": {
      const view = await deps.views.load("rollup", CommitViews.keyFor(event));
      if (!view) return { runIds: [], nothing: { status: 404, reason: `the relay triggered nothing for ${event.repo}@${event.sha}` } };
      const failed = view.members
        .filter((m) => m.report.status === "completed" && !PASSED.has(m.report.conclusion ?? "neutral"))
        .map((m) => m.report.externalId);
      return failed.length > 0 ? { runIds: failed } : { runIds: [], nothing: { status: 409, reason: `no downstream of ${event.repo}@${event.sha} has failed` } };
    }
  }
}
