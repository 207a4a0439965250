import { z } from "zod";
import { classifyHttpError, ForgeError } from "../forge/errors.js";
import type { GithubClient } from "../forge/github-octokit.js";
import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { digestCid } from "./oci.js";
import { formatPurl, type ArtifactPurl } from "./purl.js";

/**
 * A GitHub release's assets (REST "Get a release by tag name", `GET /repos/{owner}/{repo}/releases/tags/{tag}`),
 * read with the relay's own GitHub App (an installation token reads any public repository). Published:
 * the release exists, is not a draft, and has at least one asset, every one `state: uploaded` (a
 * release is often created first and its assets uploaded after). An asset's `digest` (sha256:…),
 * where GitHub gives one, is its digest.
 */
const Release = z.object({
  draft: z.boolean().optional(),
  assets: z.array(z.object({ name: z.string(), state: z.string(), digest: z.string().nullable().optional() })),
});

export class GithubReleaseArtifacts implements Artifacts {
  /** `clientFor`: a client that may read the repository (GithubApps.readClientForRepo). */
  constructor(private readonly clientFor: (repo: string) => Promise<GithubClient>) {}

  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const what = `checking the release ${formatPurl(purl)} on GitHub`;
    const [owner, repo, tag] = [purl.namespace ?? "", purl.name, purl.version ?? ""];
    let data: unknown;
    try {
      const gh = await this.clientFor(`${owner}/${repo}`);
      data = (await gh.request("GET /repos/{owner}/{repo}/releases/tags/{tag}", { owner, repo, tag, request: { signal: opts.signal } })).data;
    } catch (error) {
      const e = classifyHttpError(error, what);
      if (e.kind === "config" && e.status === 404) return { published: false };
      if (e.kind === "config") throw new ForgeError(e.message, "config", { ...e.options, hint: "the relay reads public releases with its GitHub App: check the owner and repository in the package URL" });
      throw e;
    }
    const release = Release.safeParse(data);
    if (!release.success) throw new ForgeError(`${what}: the answer is not a release`, "config", { hint: "GitHub answered something other than its documented release: check GHE_HOST" });
    const { draft, assets } = release.data;
    if (draft) return { published: false, why: "a draft" };
    if (assets.length === 0) return { published: false, why: "no assets uploaded yet" };
    const pending = assets.filter((a) => a.state !== "uploaded");
    if (pending.length > 0) return { published: false, why: `${pending.length} of ${assets.length} assets still uploading` };
    return {
      published: true,
      digests: assets.filter((a) => a.digest).map((a) => ({ name: a.name, digest: a.digest!, cid: digestCid(a.digest!)?.toString() })),
    };
  }
}
