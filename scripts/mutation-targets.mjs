// The mutation targets (stryker.config.mjs, scripts/mutation.mjs): what each mutates and the test
// files that exercise it in-process. Tests that start the relay as its own process (scale-out,
// worker-kill, start-up, npm-start, cli-bin, production-deps) cannot see Stryker's active mutant and
// are left out; so are the Redis Cluster/Sentinel and browser tests (minutes each, nothing extra
// reached in these files). `part` targets are slices of one folder, run one after another.
export const targets = {
  "edge-filter": {
    mutate: ["src/map/edge-filter.ts"],
    tests: ["test/unit/edge-filter.test.ts", "test/abuse/map-regex.test.ts", "test/unit/edge-filter-mutants.test.ts"],
  },
  "comment-places": {
    mutate: ["src/forge/comment-places.ts"],
    // e2e/failure-comments reaches the same lines at ≈ 1 min a mutant on a loaded machine: left out.
    tests: ["test/abuse/comments.test.ts", "test/unit/comment-places-mutants.test.ts"],
  },
  record: {
    mutate: ["src/history/record.ts"],
    tests: [
      "test/unit/history-store.test.ts", "test/unit/cdevents.test.ts", "test/unit/private-records.test.ts",
      "test/unit/release-view.test.ts", "test/unit/event-stream.test.ts", "test/unit/record-mutants.test.ts",
    ],
  },
  // src/report, in two parts: the texts (unit tests reach them) and the stores and publishing (end-to-end).
  "report-text": {
    folder: "src/report",
    mutate: ["src/report/neutralise.ts", "src/report/rollup.ts", "src/report/comment-text.ts", "src/report/check-text.ts"],
    tests: ["test/unit/neutralise.test.ts", "test/unit/report-text-mutants.test.ts"],
  },
  "report-store": {
    folder: "src/report",
    mutate: [
      "src/report/check-store.ts", "src/report/check-lock.ts", "src/report/commit-views.ts", "src/report/publish.ts",
      "src/report/seen-tags.ts", "src/report/trigger-records.ts", "src/report/gates.ts", "src/report/rerun-targets.ts",
      "src/report/settle.ts",
    ],
    // In-process against a real Redis; e2e/results, gates and reruns were dropped: they killed none of these tests' survivors (TESTING.md).
    tests: ["test/unit/check-store.test.ts", "test/unit/report-store-publish-mutants.test.ts", "test/unit/report-store-records-mutants.test.ts"],
  },
  // src/workers, in five parts, each with the end-to-end files that drive it.
  "workers-trigger": {
    folder: "src/workers",
    mutate: ["src/workers/trigger.ts", "src/workers/edge-from.ts", "src/workers/enqueue-triggers.ts", "src/workers/fan-out.ts"],
    tests: [
      "test/e2e/tag-to-dispatch.test.ts", "test/e2e/trigger-failures.test.ts", "test/faults/fan-out-caps.test.ts",
      "test/abuse/declared-triggers.test.ts", "test/e2e/trust.test.ts", "test/e2e/reruns.test.ts", "test/e2e/history.test.ts",
      "test/faults/intake-and-redis.test.ts", "test/faults/rate-limits.test.ts", "test/e2e/gitlab-downstream.test.ts",
      // the run timeout a trigger schedules ends as "Timed out" only there
      "test/e2e/results.test.ts",
      // not covered by the files above (first run): refused tag names, gated triggers, an edge gone before its trigger ran
      "test/abuse/tags.test.ts", "test/e2e/gates.test.ts", "test/e2e/map-repo.test.ts",
      // the second run's gaps: release-only edges, unresolvable tags, the worker's own consent checks
      // (trigger-edges); a GitLab pipeline retried in place (gitlab-upstream's re-run test)
      "test/e2e/trigger-edges.test.ts", "test/e2e/gitlab-upstream.test.ts",
      // each survivor and uncovered mutant of the second run, killed by hand-verified tests (TESTING.md)
      "test/unit/workers-trigger-mutants.test.ts",
    ],
  },
  "workers-results": {
    folder: "src/workers",
    mutate: ["src/workers/run-result.ts", "src/workers/cascade.ts", "src/workers/chain-budget.ts", "src/workers/timeout.ts", "src/workers/poll.ts", "src/workers/report.ts"],
    tests: [
      "test/e2e/results.test.ts", "test/e2e/cascade.test.ts", "test/e2e/check-suite-results.test.ts", "test/e2e/failure-comments.test.ts",
      "test/e2e/gitlab-downstream.test.ts", "test/abuse/results.test.ts", "test/abuse/gitlab-run-hooks.test.ts",
      "test/faults/write-faults.test.ts", "test/faults/write-faults-gitlab.test.ts", "test/e2e/history.test.ts",
      // written for the first run's not-covered and surviving mutants (TESTING.md)
      "test/e2e/results-edges.test.ts", "test/e2e/cascade-edges.test.ts", "test/faults/report-faults.test.ts",
      // each survivor and uncovered mutant of the first 180 of the second run, killed by hand-verified tests (TESTING.md)
      "test/unit/workers-results-mutants.test.ts",
    ],
  },
  "workers-gates-reruns": {
    folder: "src/workers",
    mutate: ["src/workers/gate.ts", "src/workers/rerun.ts", "src/workers/pull-requests.ts"],
    tests: ["test/e2e/gates.test.ts", "test/e2e/reruns.test.ts", "test/e2e/pull-requests.test.ts", "test/e2e/cli-rerun.test.ts", "test/abuse/acting-routes.test.ts",
      // every mutant but one equivalent, in-process (TESTING.md)
      "test/unit/workers-gates-reruns-mutants.test.ts"],
  },
  "workers-map": {
    folder: "src/workers",
    mutate: ["src/workers/map-refresh.ts", "src/workers/declaration.ts"],
    tests: ["test/e2e/map-repo.test.ts", "test/e2e/declarations.test.ts", "test/abuse/declarations.test.ts",
      // every mutant, in-process (TESTING.md)
      "test/unit/workers-map-mutants.test.ts"],
  },
  "workers-start": {
    folder: "src/workers",
    mutate: ["src/workers/start.ts", "src/workers/reconcile.ts", "src/workers/deps.ts"],
    tests: ["test/faults/rate-limits.test.ts", "test/faults/reconcile.test.ts", "test/e2e/tag-to-dispatch.test.ts", "test/faults/write-budget.test.ts", "test/e2e/gitlab-upstream.test.ts",
      // every mutant but four equivalent, in-process (TESTING.md)
      "test/unit/workers-start-mutants.test.ts"],
  },
  // Files written after the five parts above were defined (issues 14–20): artifact gates, watched
  // upstreams, Gerrit's event streams.
  "workers-artifact-gates": {
    folder: "src/workers",
    mutate: ["src/workers/artifact-gate.ts", "src/workers/gate-poll.ts"],
    // zuul-gate: the only in-process end-to-end file that drives gate-poll.ts
    tests: ["test/e2e/artifact-gates.test.ts", "test/e2e/zuul-gate.test.ts", "test/unit/workers-artifact-gates-mutants.test.ts"],
  },
  "workers-watch": {
    folder: "src/workers",
    mutate: ["src/workers/watch.ts", "src/workers/watch-batch.ts", "src/workers/watch-listing.ts"],
    // e2e/watch-forges and watch-git killed nothing the in-process files do not, at 1-2 min a survivor (TESTING.md)
    tests: ["test/unit/watch-state.test.ts", "test/unit/watch-config.test.ts", "test/unit/workers-watch-mutants.test.ts"],
  },
  "workers-gerrit": {
    folder: "src/workers",
    mutate: ["src/workers/gerrit-streams.ts", "src/workers/change.ts"],
    // unit/gerrit-stream tests src/forge/gerrit-stream.ts and reaches none of these mutants
    tests: ["test/e2e/gerrit-upstream.test.ts", "test/e2e/gerrit-changes.test.ts", "test/unit/workers-gerrit-mutants.test.ts"],
  },
};

