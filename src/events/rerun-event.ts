import { SYSTEM_KINDS } from "../forge/kinds.js";
import { z } from "zod";

/** A maintainer asked (from the upstream's checks tab, or the relay's API/CLI) to run downstreams again. */
export const RerunEvent = z.object({
  forge: z.enum(SYSTEM_KINDS),
  /** GitLab: the instance's host when it is not GITLAB_URL's */
  host: z.string().optional(),
  repo: z.string().min(1),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  /**
   * `one`: the downstream of one relay check (its relay run id); `downstream`: the latest run of that
   * downstream on the commit; `failed`: every failed one of the commit
   */
  scope: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("one"), relayRunId: z.string().regex(/^trigger-[0-9a-f]{32}$/) }),
    z.object({ kind: z.literal("downstream"), downstreamId: z.string().min(1) }),
    z.object({ kind: z.literal("failed") }),
  ]),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().min(1),
});
export type RerunEvent = z.infer<typeof RerunEvent>;
