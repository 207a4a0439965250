import { z } from "zod";

/**
 * A release's artifact as its registry published it: the package URL at the release's version and
 * the digests the registry names (OCI Docker-Content-Digest, PyPI files' sha256, npm integrity, GitHub
 * assets' digest), each also as a CIDv1 (raw codec). What the history records and the downstream receives.
 */
export const PublishedArtifact = z.strictObject({
  purl: z.string(),
  digests: z.array(z.strictObject({
    name: z.string().optional(),
    digest: z.string(),
    cid: z.string().optional(),
  })),
});
export type PublishedArtifact = z.infer<typeof PublishedArtifact>;
