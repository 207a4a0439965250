import { formatPurl, type ArtifactPurl, type ArtifactType } from "./purl.js";

/**
 * The `Artifacts` role: a registry that holds a release's artifacts and says whether one is
 * published, by its documented API. One implementation per registry (oci.ts, pypi.ts, golang.ts,
 * maven.ts, npm.ts, github-release.ts), each registered once, by package URL type, in src/roles/worker-role.ts;
 * the artifact gate (src/workers/artifact-gate.ts) asks `ArtifactRegistries` and never a registry by name.
 */

/** One content digest a registry names for an artifact (a file of a PyPI release, an asset of a GitHub release). */
export interface ArtifactDigest {
  /** the file or asset it belongs to, where the artifact has several */
  name?: string | undefined;
  /** as the registry writes it: sha256:<hex> (OCI, PyPI, GitHub), sha512-<base64> (npm's integrity) */
  digest: string;
  /** the same digest as a CIDv1 (raw codec; sha2-256 or sha2-512), where it is one of those */
  cid?: string | undefined;
}

export type ArtifactPublication =
  | { published: true; digests: ArtifactDigest[] }
  /** `why`: what the registry said beyond "not there" (yanked, no files yet, an asset still uploading) */
  | { published: false; why?: string | undefined };

export interface ArtifactCheckOptions {
  /** the caller's own cancellation */
  signal?: AbortSignal | undefined;
}

/**
 * Where the artifacts of one package URL type are published. Throws a ForgeError: `config` where only
 * a person can help (the registry wants credentials, refuses, answers something other than its API),
 * `transient` for a timeout, a network error or a 5xx, `rate_limited` with the wait the registry named.
 */
export interface Artifacts {
  published(purl: ArtifactPurl, opts?: ArtifactCheckOptions): Promise<ArtifactPublication>;
}

/** The registries by package URL type: registered once, asked by the gate. */
export class ArtifactRegistries {
  constructor(private readonly byType: Partial<Record<ArtifactType, Artifacts>>) {}

  /** Whether a release's artifact is published (a purl at its release's version). */
  published(purl: ArtifactPurl, opts?: ArtifactCheckOptions): Promise<ArtifactPublication> {
    const registry = this.byType[purl.type];
    if (!registry) return Promise.reject(new Error(`no registry for ${purl.type} artifacts is registered (${formatPurl(purl)})`));
    return registry.published(purl, opts);
  }
}
