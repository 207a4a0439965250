import { z } from "zod";
import { ForgeError } from "../forge/errors.js";
import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { digestCid } from "./oci.js";
import { formatPurl, type ArtifactPurl } from "./purl.js";
import { jsonOf, registryBase, registryRequest } from "./registry-http.js";

/**
 * PyPI's JSON API (docs.pypi.org/api/json/): `GET /pypi/<project>/<version>/json`. A release is
 * published when it has at least one file and is not yanked (PEP 592); its files' `digests.sha256`
 * are its digests. 404: no such project or version (yet).
 */
const PypiRelease = z.object({
  info: z.object({ yanked: z.boolean().optional(), yanked_reason: z.string().nullable().optional() }),
  urls: z.array(z.object({ filename: z.string(), digests: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }), yanked: z.boolean().optional() })),
});

const HINT = "repository_url must name a PyPI-compatible index serving the JSON API (https://pypi.org by default)";

export class PypiArtifacts implements Artifacts {
  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const what = `checking ${formatPurl(purl)} on PyPI`;
    const base = registryBase(purl, "https://pypi.org", what);
    const url = `${base}/pypi/${encodeURIComponent(purl.name)}/${encodeURIComponent(purl.version ?? "")}/json`;
    const answer = await registryRequest("GET", url, what, { signal: opts.signal, hint: HINT });
    if (answer.status !== 200) return { published: false };
    const parsed = PypiRelease.safeParse(jsonOf(answer, what, HINT));
    if (!parsed.success) throw new ForgeError(`${what}: the answer is not a PyPI release (${parsed.error.issues[0]?.message ?? "unexpected shape"})`, "config", { hint: HINT });
    const { info, urls } = parsed.data;
    if (info.yanked) return { published: false, why: info.yanked_reason ? `yanked: ${info.yanked_reason}` : "yanked" };
    if (urls.length === 0) return { published: false, why: "no files uploaded yet" };
    return {
      published: true,
      digests: urls.map((f) => ({ name: f.filename, digest: `sha256:${f.digests.sha256}`, cid: digestCid(`sha256:${f.digests.sha256}`)?.toString() })),
    };
  }
}
