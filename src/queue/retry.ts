import type { BackoffStrategy, Job } from "bullmq";
import { ForgeError } from "../forge/errors.js";

/** Backoff type of jobs that call a forge: exponential, but never sooner than the forge's retry-after. */
export const FORGE_BACKOFF = "forge";

export const forgeBackoff: BackoffStrategy = (attemptsMade, _type, err, job) => {
  const base = (job as Job | undefined)?.opts.backoff;
  const delay = typeof base === "object" && base.delay !== undefined ? base.delay : 1000;
  const exponential = Math.round(2 ** Math.max(0, attemptsMade - 1) * delay);
  const jitter = Math.floor(Math.random() * delay * 0.2);
  const retryAfter = err instanceof ForgeError ? (err.retryAfterMs ?? 0) : 0;
  return Math.max(exponential + jitter, retryAfter);
};
