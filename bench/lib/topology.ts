import type { FakeRepo } from "../../test/fakes/github/fake-github.js";
import { COMMIT, UPSTREAM } from "../../test/helpers/upstream.js";

export const UPSTREAM_INSTALLATION = 1;
export const DOWNSTREAM_INSTALLATION = 2;

/** Downstream repositories d0…d(n-1) of one organisation (one installation), each with ci.yml on main. */
export const downstreamRepos = (n: number) => Array.from({ length: n }, (_, i) => `bench-org/app-${i}`);

/**
 * One upstream (the fixtures' repository, whose real `push` tag payloads the bench sends) and
 * `downstreams` dependants, each dispatching ci.yml for every tag v*; and the fake GitHub's
 * repositories to match, with the tags the bench will push (tag objects are looked up by name).
 */
export function topology(downstreams: string[], tags: string[]) {
  const map = [
    "projects:",
    `  - { id: hello, github: ${UPSTREAM} }`,
    ...downstreams.flatMap((repo) => [
      `  - id: ${repo}`,
      `    github: ${repo}`,
      "    trigger: { workflow: ci.yml, ref: main }",
      '    depends_on: [{ project: hello, tags: "v*" }]',
    ]),
    "",
  ].join("\n");
  const repos: Record<string, FakeRepo> = {
    [UPSTREAM]: { installationId: UPSTREAM_INSTALLATION, tags: Object.fromEntries(tags.map((t) => [t, { type: "commit" as const, sha: COMMIT }])) },
  };
  for (const repo of downstreams) repos[repo] = { installationId: DOWNSTREAM_INSTALLATION, workflows: { "ci.yml": {} } };
  return { map, repos };
}

/** v0, v1, … v(n-1) */
export const tagNames = (n: number, prefix = "v") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
