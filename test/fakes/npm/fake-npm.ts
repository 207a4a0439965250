import { createHash } from "node:crypto";
import { RegistryFake } from "../../helpers/registry-fake.js";

/**
 * A fake npm registry: a package version's manifest (`GET /<package>/<version>`, a scoped name as
 * `@scope%2Fname`, SOURCE.md). A stand-in until the real-registry test with Verdaccio lands.
 */
export class FakeNpm {
  private readonly versions = new Map<string, { integrity: string; shasum: string }>();
  private constructor(readonly server: RegistryFake) {}

  static async start(): Promise<FakeNpm> {
    let fake: FakeNpm | undefined;
    const server = await RegistryFake.start("npm", [
      { method: "GET", pattern: /^\/(@[^/%]+%2[Ff][^/]+)\/([^/]+)$/, answer: ([name, version]) => fake!.version(name!, version!) },
      { method: "GET", pattern: /^\/([^@/][^/]*)\/([^/]+)$/, answer: ([name, version]) => fake!.version(name!, version!) },
    ]);
    fake = new FakeNpm(server);
    return fake;
  }

  get base(): string {
    return this.server.base;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  /** Publishes `name@version` with a tarball of `content`: its integrity is sha512 of it, as npm computes it. */
  publish(name: string, version: string, content: string): { integrity: string } {
    const integrity = `sha512-${createHash("sha512").update(content).digest("base64")}`;
    this.versions.set(`${name}@${version}`, { integrity, shasum: createHash("sha1").update(content).digest("hex") });
    return { integrity };
  }

  private version(name: string, version: string) {
    const v = this.versions.get(`${name}@${version}`);
    if (!v) return { status: 404, body: { error: "Not found" } };
    const file = `${name.replace(/^@[^/]+\//, "")}-${version}.tgz`;
    return {
      status: 200,
      body: {
        name, version, _id: `${name}@${version}`,
        dist: { integrity: v.integrity, shasum: v.shasum, tarball: `${this.base}/${name}/-/${file}` },
      },
    };
  }
}
