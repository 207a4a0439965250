import { RegistryFake } from "../../helpers/registry-fake.js";

/**
 * A fake Go module proxy: the GOPROXY protocol's `$base/$module/@v/$version.info` (SOURCE.md), module
 * paths and versions case-encoded (`!` and the lower-case letter); `publish` adds a module version.
 */
export class FakeGoProxy {
  private readonly versions = new Map<string, string>();
  private constructor(readonly server: RegistryFake) {}

  static async start(): Promise<FakeGoProxy> {
    let fake: FakeGoProxy | undefined;
    const server = await RegistryFake.start("goproxy", [{ method: "GET", pattern: /^\/(.+)\/@v\/([^/]+)\.info$/, answer: ([module, version]) => fake!.info(module!, version!) }]);
    fake = new FakeGoProxy(server);
    return fake;
  }

  get base(): string {
    return this.server.base;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  /** `module` as written (github.com/BurntSushi/toml), `version` a canonical version (v1.2.3). */
  publish(module: string, version: string, time = "2026-11-20T10:00:00Z"): void {
    this.versions.set(`${module}@${version}`, time);
  }

  private info(encodedModule: string, encodedVersion: string) {
    const decode = (s: string) => (/[A-Z]/.test(s) ? undefined : s.replace(/!([a-z])/g, (_m, c: string) => c.toUpperCase()));
    const [module, version] = [decode(encodedModule), decode(encodedVersion)];
    // A capital letter in the request is not case-encoded: the proxy answers 404/410 ("not found"), as for any module it cannot serve.
    const time = module && version ? this.versions.get(`${module}@${version}`) : undefined;
    if (time === undefined) return { status: 404, body: `not found: ${encodedModule}@${encodedVersion}: invalid version: unknown revision ${encodedVersion}` };
    return { status: 200, body: { Version: version, Time: time } };
  }
}
