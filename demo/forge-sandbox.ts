import { createHash } from "node:crypto";
import type { DependencyMap } from "../src/map/graph.js";
import { FakeGerrit } from "../test/fakes/gerrit/fake-gerrit.js";
import { FakeGithub, type FakeRepo } from "../test/fakes/github/fake-github.js";
import { FakeGitlab } from "../test/fakes/gitlab/fake-gitlab.js";
import { FakeJenkins } from "../test/fakes/jenkins/fake-jenkins.js";
import { startGithubFront, startGitlabFront, startJenkinsFront, type PlayedRun, type SandboxFront } from "./sandbox-web.js";

export const DEMO_GITLAB_TOKEN = "glpat-demo-sandbox-token";

/**
 * The Gerrit and Jenkins servers of the demo's map, and the accounts it names (user_env,
 * password_env, token_env, notify_secret_env): the variables are set for the relay process, their
 * values are the sandbox's. Both projects are public; OpenDev's Gerrit is read anonymously,
 * OpenDaylight's with an account (its HTTP password, under /a/), the Anuket Jenkins with an API token; the job reports by the Notification
 * plugin too.
 */
export const DEMO_SERVERS = {
  opendev: { real: "https://review.opendev.org", contextPath: "", project: "openstack/nova" },
  odl: { real: "https://git.opendaylight.org/gerrit", contextPath: "/gerrit", project: "odlparent", user: "openci-odl", password: "demo-gerrit-http-password" },
  // Anuket's (OPNFV's) Jenkins; the job's name is illustrative: Functest's healthcheck tier run for an upstream's release.
  anuket: { real: "https://build.opnfv.org/ci", contextPath: "/ci", job: "functest/functest-openci-healthcheck", user: "openci-anuket", token: "11a1b2c3d4e5f60718293a4b5c6d7e8f90", notifySecret: "demo-jenkins-notify-secret" },
} as const;

/** The variables the demo's map names for those accounts, and their values in the sandbox. */
export const DEMO_SERVER_ENV = {
  ODL_GERRIT_USER: DEMO_SERVERS.odl.user,
  ODL_GERRIT_PASSWORD: DEMO_SERVERS.odl.password,
  ANUKET_JENKINS_USER: DEMO_SERVERS.anuket.user,
  ANUKET_JENKINS_TOKEN: DEMO_SERVERS.anuket.token,
  ANUKET_JENKINS_NOTIFY_SECRET: DEMO_SERVERS.anuket.notifySecret,
};

/** The build parameters the Jenkins job declares: the OPENCI_* ones the relay sends (Jenkins drops undeclared ones). */
export const DEMO_JENKINS_PARAMETERS = ["OPENCI_UPSTREAM", "OPENCI_UPSTREAM_REPO", "OPENCI_TAG", "OPENCI_SHA", "OPENCI_RUN", "OPENCI_ARTIFACTS"];

export interface DemoServers {
  /** OpenDev's Gerrit (openstack/nova) and OpenDaylight's (odlparent), each under its real context path */
  opendev: FakeGerrit;
  odl: FakeGerrit;
  /** Anuket's Jenkins, and its front: where the relay is pointed, and where the build links lead */
  jenkins: FakeJenkins;
  jenkinsFront: SandboxFront;
  /** the URLs the demo's map gives in place of the real servers' */
  urls: { opendev: string; odl: string; jenkins: string };
  stop(): Promise<void>;
}

/**
 * The sandbox's Gerrit and Jenkins servers: the tests' fakes (their routes from Gerrit's and
 * Jenkins' documentation; any other request is a problem). Each Gerrit project starts with the
 * tag before the one the demo plays, so the relay's first read is its baseline. Started before the
 * map is built: the map names their addresses.
 */
export async function startServers(baselines: { project: string; tag: string }[]): Promise<DemoServers> {
  const opendev = await FakeGerrit.start({ contextPath: DEMO_SERVERS.opendev.contextPath });
  opendev.addProject(DEMO_SERVERS.opendev.project);
  const odl = await FakeGerrit.start({ contextPath: DEMO_SERVERS.odl.contextPath, user: DEMO_SERVERS.odl.user, password: DEMO_SERVERS.odl.password });
  odl.addProject(DEMO_SERVERS.odl.project);
  for (const b of baselines) {
    const gerrit = b.project === DEMO_SERVERS.opendev.project ? opendev : odl;
    gerrit.addTag(b.project, b.tag, { commit: commitOf(b.project, b.tag), annotated: true });
  }
  const jenkins = await FakeJenkins.start({
    contextPath: DEMO_SERVERS.anuket.contextPath,
    users: [{ user: DEMO_SERVERS.anuket.user, token: DEMO_SERVERS.anuket.token }],
    jobs: { [DEMO_SERVERS.anuket.job]: DEMO_JENKINS_PARAMETERS },
  });
  const jenkinsFront = await startJenkinsFront(jenkins);
  return {
    opendev, odl, jenkins, jenkinsFront,
    urls: { opendev: opendev.url, odl: odl.url, jenkins: `${jenkinsFront.url}${DEMO_SERVERS.anuket.contextPath}` },
    stop: async () => {
      await jenkinsFront.stop();
      await jenkins.stop();
      await opendev.stop();
      await odl.stop();
    },
  };
}

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
export async function startSandbox(map: DependencyMap, privateKey: string, appId: number, tags: { repo: string; tag: string }[], servers: DemoServers) {
  const installations = new Map<string, number>();
  const repos: Record<string, FakeRepo> = {};
  const gitlabProjects: string[] = [];
  for (const p of map.projects()) {
    if (p.location.forge === "gitlab") {
      gitlabProjects.push(p.location.project);
      continue;
    }
    if (p.location.forge === "git" || p.location.forge === "gerrit") continue; // not on GitHub or GitLab (the Gerrit servers: startServers)
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
    github, gitlab, githubFront, gitlabFront, played, servers,
    installationOf: (repo: string) => repos[repo]?.installationId,
    stop: async () => {
      await servers.stop();
      await githubFront.stop();
      await gitlabFront.stop();
      await github.stop();
      await gitlab.stop();
    },
  };
}
