import { z } from "zod";
import { ForgeError } from "../forge/errors.js";
import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { formatPurl, type ArtifactPurl } from "./purl.js";
import { jsonOf, registryBase, registryRequest } from "./registry-http.js";

/**
 * The Go module proxy protocol (go.dev/ref/mod, "GOPROXY protocol"): `GET $base/$module/@v/$version.info`
 * answers `{"Version", "Time"}`; 404 or 410 mean the proxy has no such version. Module paths and
 * versions are case-encoded: each capital letter becomes `!` and its lower case. The proxy names no digest.
 */
const Info = z.object({ Version: z.string(), Time: z.string().optional() });
const HINT = "repository_url must name a Go module proxy (https://proxy.golang.org by default)";

/** The proxy protocol's case encoding: `github.com/BurntSushi/toml` → `github.com/!burnt!sushi/toml`. */
export function escapeModulePath(path: string): string {
  return path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

export class GoProxyArtifacts implements Artifacts {
  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const what = `checking ${formatPurl(purl)} on the Go module proxy`;
    const base = registryBase(purl, "https://proxy.golang.org", what);
    const module = `${purl.namespace}/${purl.name}`;
    const path = escapeModulePath(module).split("/").map(encodeURIComponent).join("/");
    const answer = await registryRequest("GET", `${base}/${path}/@v/${encodeURIComponent(escapeModulePath(purl.version ?? ""))}.info`, what, { signal: opts.signal, hint: HINT });
    if (answer.status !== 200) return { published: false };
    const info = Info.safeParse(jsonOf(answer, what, HINT));
    if (!info.success) throw new ForgeError(`${what}: the answer is not a version's .info`, "config", { hint: HINT });
    // The proxy answers a query (a branch, `latest`) with the version it resolves to: only this version counts.
    if (info.data.Version !== purl.version) return { published: false, why: `the proxy resolves it to ${info.data.Version}` };
    return { published: true, digests: [] };
  }
}
