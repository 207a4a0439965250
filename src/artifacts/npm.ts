import { z } from "zod";
import { ForgeError } from "../forge/errors.js";
import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { digestCid } from "./oci.js";
import { formatPurl, type ArtifactPurl } from "./purl.js";
import { jsonOf, registryBase, registryRequest } from "./registry-http.js";

/**
 * The npm registry API (github.com/npm/registry, docs/REGISTRY-API.md): `GET /<package>/<version>`
 * answers the version's manifest; a scoped name is sent as `@scope%2Fname`. Its `dist.integrity`
 * (Subresource Integrity, sha512-<base64>) is the digest. 404: no such package or version (yet).
 */
const Version = z.object({
  name: z.string(), version: z.string(),
  dist: z.object({ integrity: z.string().optional(), shasum: z.string().optional(), tarball: z.string().optional() }),
});
const HINT = "repository_url must name an npm registry (https://registry.npmjs.org by default)";

/** `@scope/name` → `@scope%2Fname`; an unscoped name as it is (percent-encoded). */
export function npmPackagePath(purl: Pick<ArtifactPurl, "namespace" | "name">): string {
  return purl.namespace ? `${purl.namespace}%2F${encodeURIComponent(purl.name)}` : encodeURIComponent(purl.name);
}

/** An SRI digest (sha256-… / sha512-…, base64) as a raw CID, where it is one of those. */
export function integrityCid(integrity: string): string | undefined {
  const m = /^(sha256|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(integrity);
  return m ? digestCid(`${m[1]}:${Buffer.from(m[2]!, "base64").toString("hex")}`)?.toString() : undefined;
}

export class NpmArtifacts implements Artifacts {
  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const what = `checking ${formatPurl(purl)} on npm`;
    const base = registryBase(purl, "https://registry.npmjs.org", what);
    const answer = await registryRequest("GET", `${base}/${npmPackagePath(purl)}/${encodeURIComponent(purl.version ?? "")}`, what, { signal: opts.signal, hint: HINT });
    if (answer.status !== 200) return { published: false };
    const parsed = Version.safeParse(jsonOf(answer, what, HINT));
    if (!parsed.success) throw new ForgeError(`${what}: the answer is not a package version's manifest`, "config", { hint: HINT });
    if (parsed.data.version !== purl.version) return { published: false, why: `the registry answers ${parsed.data.version}` };
    const integrity = parsed.data.dist.integrity;
    return { published: true, digests: integrity ? [{ digest: integrity, cid: integrityCid(integrity) }] : [] };
  }
}
