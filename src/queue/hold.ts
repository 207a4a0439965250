/**
 * Thrown by a job that cannot go on yet for a reason that is no failure of its own (another job is
 * doing the same thing right now): the worker puts it back in the delayed set for `holdMs`, spending
 * none of its attempts (workers/start.ts, as for a forge's rate limit).
 */
export class HoldJob extends Error {
  constructor(message: string, readonly holdMs: number) {
    super(message);
  }
}
