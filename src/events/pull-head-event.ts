import { z } from "zod";

/** "A check suite passed on this upstream commit": the moment to test its open pull requests downstream. */
export const PullHeadEvent = z.object({
  forge: z.enum(["github", "gitlab"]),
  repo: z.string().min(1),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  installationId: z.number().int().positive().optional(),
  deliveryId: z.string().min(1),
});
export type PullHeadEvent = z.infer<typeof PullHeadEvent>;
