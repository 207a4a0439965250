import type { CheckRun, FakeRepo } from "../fakes/github/fake-github.js";

/** The repository and commit of the real @octokit/webhooks-examples tag payloads. */
export const UPSTREAM = "Codertocat/Hello-World";
export const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

/** The fixtures' upstream, installed as installation 1, with `simple-tag` on COMMIT. */
export const upstreamRepo = (): FakeRepo => ({ installationId: 1, tags: { "simple-tag": { type: "commit", sha: COMMIT } } });

/** The relay's per-downstream check runs ("openci: <id>"), without the commit's roll-up ("openci"). */
export const downstreamChecks = (github: { checkRuns: CheckRun[] }): CheckRun[] =>
  github.checkRuns.filter((c) => c.name.startsWith("openci: "));

/** The downstream of the real workflow_run examples, with test.yml on master (installation 5). */
export const octoRepo = (): FakeRepo => ({ installationId: 5, workflows: { "test.yml": {} }, branches: ["master"] });

/** acme/app with ci.yml on main (installation 2). */
export const acmeAppRepo = (): FakeRepo => ({ installationId: 2, workflows: { "ci.yml": {} } });
