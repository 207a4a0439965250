import type { FakeGitlab } from "../fakes/gitlab/fake-gitlab.js";
import { gitlabFixture, sendGitlabDelivery } from "./gitlab-deliveries.js";
import type { Harness } from "./relay-harness.js";
import { waitFor } from "./wait-for.js";

export const HOOK_SECRET = "gitlab-hook-secret";
/** The upstream GitLab project of these scenarios, and the commit of the documented Tag Push Hook example. */
export const GL_UPSTREAM = "group/lib";
export const GL_COMMIT = "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7";
export const GL_TAG = "v1.0.0";
/** group/lib's tags on the fake GitLab: the relay reads a pushed tag back before acting on it. */
export const GL_TAGS = () => ({ [GL_UPSTREAM]: { [GL_TAG]: GL_COMMIT } });

/** The documented Tag Push Hook example, moved to group/lib on the fake GitLab (tag v1.0.0 at GL_COMMIT). */
export function tagPush(gitlab: FakeGitlab, o: { deleted?: boolean } = {}) {
  const fixture = gitlabFixture("tag_push");
  fixture.body.project.path_with_namespace = GL_UPSTREAM;
  fixture.body.project.web_url = `${gitlab.url}/${GL_UPSTREAM}`;
  if (o.deleted) {
    fixture.body.before = GL_COMMIT;
    fixture.body.after = "0000000000000000000000000000000000000000";
    fixture.body.checkout_sha = null;
  }
  return fixture;
}

/**
 * The documented Pipeline Hook example, as the pipeline of tag v1.0.0 of group/lib (or of branch
 * main, `tag: false`) whose own jobs all ended `jobs`; the relay's pending statuses are among its
 * jobs, as on GitLab, so the pipeline itself is still running.
 */
export function upstreamPipelineHook(gitlab: FakeGitlab, jobs: string, o: { tag?: boolean } = {}) {
  const fixture = gitlabFixture("pipeline");
  const tag = o.tag ?? true;
  Object.assign(fixture.body.object_attributes, {
    id: 900, ref: tag ? GL_TAG : "main", tag, sha: GL_COMMIT, status: "running", url: `${gitlab.url}/${GL_UPSTREAM}/-/pipelines/900`,
  });
  for (const build of fixture.body.builds) build.status = jobs;
  fixture.body.builds.push({ ...fixture.body.builds[0], id: 999, name: "openci: gl/tool", stage: "external", status: "pending" });
  Object.assign(fixture.body.project, { path_with_namespace: GL_UPSTREAM, web_url: `${gitlab.url}/${GL_UPSTREAM}` });
  return fixture;
}

/**
 * group/lib's own CI as GitLab holds it (the relay reads it back before a hook opens a gate): the
 * tag's pipeline whose jobs all ended `jobs`, as in upstreamPipelineHook.
 */
export function upstreamPipelineOnGitlab(gitlab: FakeGitlab, jobs: string): void {
  const names = (gitlabFixture("pipeline").body.builds as { name: string }[]).map((b) => b.name);
  gitlab.pipelines.push({
    id: 900, project: GL_UPSTREAM, ref: GL_TAG, sha: GL_COMMIT, status: "running", tag: true, variables: [],
    jobs: names.map((name) => ({ name, status: jobs })), source: "push", retried: 0,
  });
}

/** group/lib's job `name` of tag v1.0.0 as GitLab lists it among the commit's statuses. */
export function upstreamJobOnGitlab(gitlab: FakeGitlab, name: string, status: string): void {
  gitlab.statuses.push({ id: 90_000 + gitlab.statuses.length, project: GL_UPSTREAM, sha: GL_COMMIT, name, status, ref: GL_TAG, target_url: undefined, description: undefined });
}

/** The documented Job Hook example, as job `name` of tag v1.0.0 of group/lib ending `status`. */
export function upstreamJobHook(gitlab: FakeGitlab, name: string, status: string) {
  const fixture = gitlabFixture("job");
  Object.assign(fixture.body, { ref: GL_TAG, tag: true, sha: GL_COMMIT, before_sha: GL_COMMIT, build_name: name, build_status: status });
  Object.assign(fixture.body.project, { path_with_namespace: GL_UPSTREAM, web_url: `${gitlab.url}/${GL_UPSTREAM}` });
  return fixture;
}

export const sendHook = (h: Harness, fixture: { headers: Record<string, string>; body: unknown }, token: string | null = HOOK_SECRET) =>
  sendGitlabDelivery(h.url, fixture, { token });

/** Waits for the upstream status `name` on group/lib@GL_COMMIT to reach `state`. */
export function upstreamStatus(h: Harness, name: string, state: string) {
  return waitFor(`status '${name}' ${state}`, () => {
    const s = h.gitlab!.status(GL_UPSTREAM, GL_COMMIT, name);
    return s?.status === state ? s : undefined;
  });
}

export const statesOf = (h: Harness, name: string) => h.gitlab!.statusHistory[`${GL_UPSTREAM}@${GL_COMMIT} ${name}`] ?? [];
