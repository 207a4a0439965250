import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The relay's Prometheus metrics, one registry per process (GET /metrics on the web role). Counters
 * are counted where things happen; queue and Redis gauges are read when scraped.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "openci_" });

export const deliveries = new Counter({
  name: "openci_webhook_deliveries_total",
  help: "Webhook deliveries received, by forge, event and outcome (enqueued, ignored, rejected, failed)",
  labelNames: ["forge", "event", "outcome"] as const,
  registers: [registry],
});

export const tagToTrigger = new Histogram({
  name: "openci_tag_to_trigger_seconds",
  help: "From receiving an upstream tag delivery to the downstream pipeline being triggered",
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  registers: [registry],
});

export const forgeCalls = new Counter({
  name: "openci_forge_api_calls_total",
  help: "Forge API requests, by forge and HTTP status class (2xx, 4xx, 5xx, network)",
  labelNames: ["forge", "status"] as const,
  registers: [registry],
});

export const rateLimitRemaining = new Gauge({
  name: "openci_forge_rate_limit_remaining",
  help: "The rate-limit budget the forge last reported as left (GitHub x-ratelimit-remaining, GitLab RateLimit-Remaining)",
  labelNames: ["forge"] as const,
  registers: [registry],
});

export const triggers = new Counter({
  name: "openci_triggers_total",
  help: "Downstream triggers, by outcome (triggered, refused, failed)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const jobsHeld = new Counter({
  name: "openci_jobs_rate_limited_total",
  help: "Jobs put back to wait for a forge budget or a pause the forge asked for, by queue (no attempt spent)",
  labelNames: ["queue"] as const,
  registers: [registry],
});

/** Records one forge response: its status class and the rate-limit budget it reports. */
export function countForgeCall(forge: "github" | "gitlab", status: number | undefined, headers: Record<string, unknown> = {}): void {
  forgeCalls.inc({ forge, status: status === undefined ? "network" : `${Math.floor(status / 100)}xx` });
  const remaining = headers["x-ratelimit-remaining"] ?? headers["ratelimit-remaining"];
  if (remaining !== undefined && !Number.isNaN(Number(remaining))) rateLimitRemaining.set({ forge }, Number(remaining));
}

export const watchPolls = new Counter({
  name: "openci_watch_polls_total",
  help: "Polls of watched upstreams (git hosts, `watch:` entries), by outcome (baseline, read, not_modified: a 304 to If-None-Match, error)",
  labelNames: ["outcome"] as const,
  registers: [registry],
});

export const watchNewTags = new Counter({
  name: "openci_watch_new_tags_total",
  help: "New or moved tags the watcher found on watched upstreams and passed on as tag events",
  registers: [registry],
});

export const watchGithubReads = new Counter({
  name: "openci_watch_github_requests_total",
  help: "Requests the watcher sent to GitHub for upstreams the app is not installed on, by API (graphql: one query per 50 repositories; rest: one page, the fallback) and outcome (ok, not_modified: a 304, which costs no rate limit, error)",
  labelNames: ["api", "outcome"] as const,
  registers: [registry],
});

export const watchGithubPoints = new Counter({
  name: "openci_watch_github_points_total",
  help: "GraphQL rate-limit points the watcher's queries cost (GitHub's rateLimit.cost; an installation has 5,000 an hour)",
  registers: [registry],
});

export const artifactChecks = new Counter({
  name: "openci_artifact_checks_total",
  help: "Registry checks of release artifacts by artifact gates (after_artifacts), by package type (oci, pypi, npm, golang, maven, github) and outcome (published, missing, error)",
  labelNames: ["type", "outcome"] as const,
  registers: [registry],
});
