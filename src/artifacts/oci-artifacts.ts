import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { ociArtifactPublished, OciTokens } from "./oci.js";
import type { ArtifactPurl } from "./purl.js";

/** OCI registries as an `Artifacts` registry: one HEAD of the manifest (oci.ts); anonymous tokens kept per process. */
export class OciArtifacts implements Artifacts {
  constructor(private readonly tokens = new OciTokens()) {}

  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const r = await ociArtifactPublished(purl, { tokens: this.tokens, signal: opts.signal });
    return r.published ? { published: true, digests: [{ digest: r.digest, cid: r.cid?.toString() }] } : { published: false };
  }
}
