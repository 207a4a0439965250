import { createHash } from "node:crypto";
import type { DependencyMap } from "../src/map/graph.js";
import { FakeGithub, type FakeRepo } from "../test/fakes/github/fake-github.js";
import { FakeGitlab } from "../test/fakes/gitlab/fake-gitlab.js";
import { startGithubFront, startGitlabFront, type PlayedRun } from "./sandbox-web.js";

export const DEMO_GITLAB_TOKEN = "glpat-demo-sandbox-token";

/** A made-up but stable commit for a tag, so every run of the demo looks the same. */
export function commitOf(repo: string, tag: string): string {
  return createHash("sha1").update(`${repo}@${tag}`).digest("hex");
}

/**
 * The local forge sandbox: the tests' fake GitHub (every request checked against GitHub's
 * OpenAPI description, app JWTs and installation tokens) and fake GitLab, knowing every
 * repository of the map, with the workflows and branches the map's triggers name and the tags
 * the demo pushes. One installation per organisation, as when each community installs the app,
 * except where the map watches the upstream (`watch:`): no app there.
 */
export async function startSandbox(map: DependencyMap, privateKey: string, appId: number, tags: { repo: string; tag: string }[]) {
  const installations = new Map<string, number>();
  const repos: Record<string, FakeRepo> = {};
  const gitlabProjects: string[] = [];
  for (const p of map.projects()) {
    if (p.location.forge === "gitlab") {
      gitlabProjects.push(p.location.project);
      continue;
    }
    if (p.location.forge === "git" || p.location.forge === "gerrit") continue; // a git host is served by git http-backend, not by a fake forge
    const repo = p.location.repo;
    const owner = repo.split("/")[0]!;
    if (!installations.has(owner)) installations.set(owner, installations.size + 1);
    const workflow = p.trigger?.workflow;
    repos[repo] = {
      installationId: installations.get(owner)!,
      // a watched upstream: the app is not installed there (the relay reads it with another installation's token)
      ...(p.watch ? { installed: false } : {}),
      ...(workflow !== undefined ? { workflows: { [String(workflow)]: {} } } : {}),
      branches: [p.trigger?.ref ?? "main"],
      tags: Object.fromEntries(tags.filter((t) => t.repo === repo).map((t) => [t.tag, { type: "commit" as const, sha: commitOf(repo, t.tag) }])),
    };
  }
  const github = await FakeGithub.start({ appId, privateKey, repos });
  const gitlab = await FakeGitlab.start({ token: DEMO_GITLAB_TOKEN, projects: gitlabProjects });
  // The fronts the relay talks to: the fakes' APIs, and a page for every run link they hand out.
  const played = new Map<number, PlayedRun>();
  const githubFront = await startGithubFront(github, played);
  const gitlabFront = await startGitlabFront(gitlab);
  return {
    github, gitlab, githubFront, gitlabFront, played,
    installationOf: (repo: string) => repos[repo]?.installationId,
    stop: async () => {
      await githubFront.stop();
      await gitlabFront.stop();
      await github.stop();
      await gitlab.stop();
    },
  };
}
