import { readFileSync } from "node:fs";

export type GithubFixture =
  | "create.tag"
  | "push.tag"
  | "push.tag-deleted"
  | "push.branch"
  | "release.published"
  | "workflow_run.completed"
  | "workflow_run.requested"
  | "check_run.completed"
  | "check_run.rerequested"
  | "check_run.requested_action"
  | "check_suite.completed"
  | "installation.created"
  | "installation_repositories.added"
  | "repository.privatized"
  | "repository.publicized";

/** A fresh copy of a real webhook payload from fixtures/github/. */
export function githubFixture(name: GithubFixture): any {
  return JSON.parse(readFileSync(new URL(`../../fixtures/github/${name}.json`, import.meta.url), "utf8"));
}

/** The event name GitHub sends in X-GitHub-Event for a fixture. */
export function eventName(name: GithubFixture): string {
  return name.split(".")[0]!;
}
