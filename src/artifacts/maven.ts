import type { ArtifactPublication, Artifacts, ArtifactCheckOptions } from "./artifacts.js";
import { formatPurl, type ArtifactPurl } from "./purl.js";
import { registryBase, registryRequest } from "./registry-http.js";

/**
 * A Maven repository's layout (maven.apache.org/repository/layout.html): a release's POM is at
 * `/<groupId with . as />/<artifactId>/<version>/<artifactId>-<version>.pom`; it is published when a
 * HEAD of it answers 200 (Maven Central, https://repo1.maven.org/maven2, by default).
 */
const HINT = "repository_url must name a Maven repository's root (https://repo1.maven.org/maven2 by default)";

export class MavenArtifacts implements Artifacts {
  async published(purl: ArtifactPurl, opts: ArtifactCheckOptions = {}): Promise<ArtifactPublication> {
    const what = `checking ${formatPurl(purl)} on Maven`;
    const base = registryBase(purl, "https://repo1.maven.org/maven2", what);
    const version = purl.version ?? "";
    const path = [...(purl.namespace ?? "").split("."), purl.name, version, `${purl.name}-${version}.pom`].map(encodeURIComponent).join("/");
    const answer = await registryRequest("HEAD", `${base}/${path}`, what, { accept: "*/*", signal: opts.signal, hint: HINT });
    return answer.status === 200 ? { published: true, digests: [] } : { published: false };
  }
}
