import { RegistryFake } from "../../helpers/registry-fake.js";

/** A fake Maven repository: HEAD (and GET) of a release's POM in the repository layout (SOURCE.md); `publish` adds one. */
export class FakeMaven {
  private readonly poms = new Set<string>();
  private constructor(readonly server: RegistryFake) {}

  static async start(): Promise<FakeMaven> {
    let fake: FakeMaven | undefined;
    const pom = /^\/((?:[^/]+\/)+)([^/]+)\/([^/]+)\/([^/]+)\.pom$/;
    const answer = ([group, artifact, version, file]: string[]) => fake!.pom(group!, artifact!, version!, file!);
    const server = await RegistryFake.start("maven", [{ method: "HEAD", pattern: pom, answer }, { method: "GET", pattern: pom, answer }]);
    fake = new FakeMaven(server);
    return fake;
  }

  get base(): string {
    return this.server.base;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  publish(groupId: string, artifactId: string, version: string): void {
    this.poms.add(`${groupId}:${artifactId}:${version}`);
  }

  private pom(groupPath: string, artifact: string, version: string, file: string) {
    const group = groupPath.replace(/\/$/, "").split("/").join(".");
    if (file !== `${artifact}-${version}` || !this.poms.has(`${group}:${artifact}:${version}`)) return { status: 404, body: "Not Found" };
    return { status: 200, body: `<project><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></project>`, headers: { "content-type": "text/xml" } };
  }
}
