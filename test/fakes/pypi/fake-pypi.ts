import { createHash } from "node:crypto";
import { RegistryFake } from "../../helpers/registry-fake.js";

/**
 * A fake PyPI: the JSON API's release route only (`GET /pypi/<project>/<version>/json`, SOURCE.md), its
 * answer shaped as PyPI documents it. `publish` uploads a release's files; `yank` marks it yanked (PEP 592).
 */
export interface PypiFile {
  filename: string;
  content: string;
}

const normalise = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

export class FakePypi {
  private readonly releases = new Map<string, { name: string; version: string; files: (PypiFile & { sha256: string; md5: string; blake2b: string })[]; yanked: string | undefined }>();
  private serial = 1000;
  private constructor(readonly server: RegistryFake) {}

  static async start(): Promise<FakePypi> {
    let fake: FakePypi | undefined;
    const server = await RegistryFake.start("pypi", [{ method: "GET", pattern: /^\/pypi\/([^/]+)\/([^/]+)\/json$/, answer: ([project, version]) => fake!.release(project!, version!) }]);
    fake = new FakePypi(server);
    return fake;
  }

  get base(): string {
    return this.server.base;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  publish(name: string, version: string, files: PypiFile[]): { sha256: string[] } {
    const hashed = files.map((f) => ({
      ...f, sha256: createHash("sha256").update(f.content).digest("hex"), md5: createHash("md5").update(f.content).digest("hex"),
      blake2b: createHash("blake2b512").update(f.content).digest("hex").slice(0, 64),
    }));
    this.releases.set(`${normalise(name)} ${version}`, { name, version, files: hashed, yanked: undefined });
    this.serial++;
    return { sha256: hashed.map((f) => f.sha256) };
  }

  yank(name: string, version: string, reason = ""): void {
    const r = this.releases.get(`${normalise(name)} ${version}`);
    if (!r) throw new Error(`no release ${name} ${version} to yank`);
    r.yanked = reason;
  }

  private release(project: string, version: string) {
    const r = this.releases.get(`${normalise(project)} ${version}`);
    if (!r) return { status: 404, body: { message: "Not Found" } };
    const yanked = r.yanked !== undefined;
    return {
      status: 200,
      body: {
        info: {
          name: r.name, version: r.version, summary: "", yanked, yanked_reason: yanked ? r.yanked || null : null,
          package_url: `https://pypi.org/project/${r.name}/`, project_url: `https://pypi.org/project/${r.name}/`, release_url: `https://pypi.org/project/${r.name}/${r.version}/`,
        },
        last_serial: this.serial,
        urls: r.files.map((f) => ({
          filename: f.filename, digests: { blake2b_256: f.blake2b, md5: f.md5, sha256: f.sha256 }, md5_digest: f.md5,
          packagetype: f.filename.endsWith(".whl") ? "bdist_wheel" : "sdist", python_version: f.filename.endsWith(".whl") ? "py3" : "source",
          size: f.content.length, upload_time_iso_8601: "2026-11-20T10:00:00.000000Z",
          url: `https://files.pythonhosted.org/packages/${f.sha256.slice(0, 2)}/${f.sha256.slice(2, 4)}/${f.sha256.slice(4)}/${f.filename}`,
          yanked, yanked_reason: yanked ? r.yanked || null : null,
        })),
        vulnerabilities: [],
      },
    };
  }
}
