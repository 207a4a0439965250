import { SYSTEM_KINDS } from "../forge/kinds.js";
import { z } from "zod";
import { RUN_CONCLUSIONS } from "./run-event.js";

/** A forge-neutral "a check on an upstream commit finished" event: what `after_check` gates wait for. */
export const CheckEvent = z.object({
  forge: z.enum(SYSTEM_KINDS),
  /** GitLab: the instance's host when it is not GITLAB_URL's (then the map names it) */
  host: z.string().optional(),
  repo: z.string().min(1),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  name: z.string().min(1),
  conclusion: z.enum(RUN_CONCLUSIONS),
  /** GitLab: the tag the pipeline or job ran for, to confirm its state through the API */
  ref: z.string().optional(),
  deliveryId: z.string().min(1),
});
export type CheckEvent = z.infer<typeof CheckEvent>;
