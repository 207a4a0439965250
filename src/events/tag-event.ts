import { SYSTEM_KINDS } from "../forge/kinds.js";
import { z } from "zod";

/** A forge-neutral "upstream created a tag" event: what every tag webhook is normalised to. */
export const TagEvent = z.object({
  forge: z.enum(SYSTEM_KINDS),
  /** GitLab: the instance's host when it is not GITLAB_URL's (then the map names it) */
  host: z.string().optional(),
  /** owner/repo on GitHub, group/project on GitLab, the repository URL on a git host */
  repo: z.string().min(1),
  tag: z.string().min(1),
  /**
   * The SHA the delivery named: a commit, or on a GitHub push of an annotated tag the tag object.
   * Absent where the delivery names none (GitHub `create`, `release`). The fan-out resolves the commit.
   */
  sha: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  /** GitHub `create`, `push`, `release`; GitLab `tag_push` (a Tag Push Hook); `reconcile`: found by the periodic reconciler, no delivery announced it; `watch`: found by polling an upstream that sends no webhook (a git host); `stream`: announced by a Gerrit server's stream-events */
  source: z.enum(["create", "push", "release", "tag_push", "reconcile", "watch", "stream"]),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().min(1),
  receivedAt: z.iso.datetime(),
});
export type TagEvent = z.infer<typeof TagEvent>;

/**
 * The tag names the relay passes on to downstreams. A git tag may hold `;`, `$(…)`, quotes and
 * `${IFS}`, and downstream workflows often paste `openci_tag` into a shell: a tag outside this set
 * is recorded but triggers nothing.
 */
export const SAFE_TAG = /^[A-Za-z0-9._+/-]{1,128}$/;

/** Why the relay will not pass this tag on, or undefined when it may. */
export function unsafeTagReason(tag: string): string | undefined {
  if (SAFE_TAG.test(tag)) return undefined;
  return tag.length > 128
    ? "tag name longer than 128 characters: not passed to downstreams"
    : "tag name has characters outside A-Z a-z 0-9 . _ + / -: not passed to downstreams, which may paste it into a shell";
}
