import { z } from "zod";

/** A forge-neutral "upstream created a tag" event: what every tag webhook is normalised to. */
export const TagEvent = z.object({
  forge: z.enum(["github", "gitlab"]),
  /** GitLab: the instance's host when it is not GITLAB_URL's (then the map names it) */
  host: z.string().optional(),
  /** owner/repo on GitHub, group/project on GitLab */
  repo: z.string().min(1),
  tag: z.string().min(1),
  /**
   * The SHA the delivery named: a commit, or on a GitHub push of an annotated tag the tag object.
   * Absent where the delivery names none (GitHub `create`, `release`). The fan-out resolves the commit.
   */
  sha: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  /** `reconcile`: found by the periodic reconciler, no delivery announced it */
  source: z.enum(["create", "push", "release", "reconcile"]),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().min(1),
  receivedAt: z.iso.datetime(),
});
export type TagEvent = z.infer<typeof TagEvent>;
