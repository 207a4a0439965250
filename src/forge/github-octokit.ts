import { ProbotOctokit } from "probot";
import { countForgeCall } from "../metrics.js";

/**
 * Probot's Octokit without its in-process retry and throttling: a failed or rate-limited call fails
 * the BullMQ job, which retries with backoff (or waits out `retry-after`) instead of holding a worker.
 * Write pacing per installation is the relay's own (write-pacer.ts).
 */
const Counted = ProbotOctokit.plugin((octokit: { hook: InstanceType<typeof ProbotOctokit>["hook"] }) => {
  octokit.hook.after("request", (response) => countForgeCall("github", response.status, response.headers));
  octokit.hook.error("request", (error) => {
    const e = error as { status?: number; response?: { headers?: Record<string, unknown> } };
    countForgeCall("github", e.status, e.response?.headers);
    throw error;
  });
});

export const RelayOctokit = Counted.defaults((options: Record<string, unknown>) => ({
  ...options,
  throttle: { ...(options.throttle as object | undefined), enabled: false },
  retry: { enabled: false },
}));

export type GithubClient = InstanceType<typeof ProbotOctokit>;
