import { ProbotOctokit } from "probot";

/**
 * Probot's Octokit without its in-process retry and throttling: a failed or rate-limited call fails
 * the BullMQ job, which retries with backoff (or waits out `retry-after`) instead of holding a worker.
 * Write pacing per installation is the relay's own (write-pacer.ts).
 */
export const RelayOctokit = ProbotOctokit.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: { ...(options.throttle as object | undefined), enabled: false },
  retry: { enabled: false },
}));

export type GithubClient = InstanceType<typeof ProbotOctokit>;
