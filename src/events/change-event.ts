import { z } from "zod";

/**
 * "Test this Gerrit change's patch set" (third-party-CI style): a new patch set (`patchset-created`),
 * or a reviewer's `recheck` comment on one, as `gerrit stream-events` announced it. The downstreams
 * whose edge says `on: [change]` run on the patch set's ref (refs/changes/NN/NNNN/P) and commit.
 */
export const ChangeEvent = z.object({
  forge: z.literal("gerrit"),
  /** the server's URL, as the map's entry names it (the place's host) */
  host: z.string().min(1),
  /** the Gerrit project */
  repo: z.string().min(1),
  /** the change's number */
  change: z.number().int().positive(),
  patchSet: z.number().int().positive(),
  /** refs/changes/NN/NNNN/P: what the downstream fetches */
  ref: z.string().regex(/^refs\/changes\/\d{2}\/\d+\/\d+$/),
  /** the patch set's commit */
  revision: z.string().regex(/^[0-9a-f]{40}$/),
  /** a `recheck` comment: run the patch set's downstreams again (a new run each) */
  recheck: z.boolean(),
  deliveryId: z.string().min(1),
  receivedAt: z.iso.datetime().optional(),
});
export type ChangeEvent = z.infer<typeof ChangeEvent>;

/**
 * Whether an upstream ref is code under review rather than a release: a GitHub pull request's head
 * ("pull/<n>") or a Gerrit patch set ("refs/changes/NN/NNNN/P"). Such a run cascades nothing and
 * waits for no artifacts.
 */
export function isUnderReview(ref: string): boolean {
  return ref.startsWith("pull/") || ref.startsWith("refs/changes/");
}
