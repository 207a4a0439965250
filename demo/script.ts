import { randomUUID } from "node:crypto";
import { repoOf, type DependencyMap } from "../src/map/graph.js";
import { sendGithubDelivery } from "../test/helpers/deliveries.js";
import { githubFixture } from "../test/helpers/fixtures.js";
import type { FakeGithub } from "../test/fakes/github/fake-github.js";
import type { FakeGitlab } from "../test/fakes/gitlab/fake-gitlab.js";
import type { FakeTestCase } from "../test/fakes/jenkins/fake-jenkins.js";
import { commitOf, DEMO_SERVERS, type DemoServers } from "./forge-sandbox.js";
import type { PlayedRun } from "./sandbox-web.js";

/** How the relay started a downstream run: what GitHub then says of it in workflow_run. */
type Started = { event: "workflow_dispatch"; workflow: string | undefined } | { event: "repository_dispatch"; workflow?: undefined };

/**
 * The releases the demo tags, across foundations, in order. A GitHub upstream's tag comes with its
 * webhook; Nova's and odlparent's are added on their Gerrit servers, where the relay finds them.
 */
export const DEMO_TAGS = [
  { project: "kubernetes", tag: "v1.31.0" },
  { project: "containerd", tag: "v2.1.0" },
  { project: "nova", tag: "30.0.0" },
  { project: "odl-odlparent", tag: "v14.0.0" },
  { project: "dpdk", tag: "v24.11" },
];
/** The Gerrit projects' tags before the demo's (by Gerrit project name): the relay's first read of their tags is its baseline, which triggers nothing. */
export const DEMO_GERRIT_BASELINES = [
  { project: DEMO_SERVERS.opendev.project, tag: "29.0.0" },
  { project: DEMO_SERVERS.odl.project, tag: "v13.1.3" },
];

/** How the downstreams' first runs end: most pass; these fail (with the failing job), or never report and time out. */
const FAILS: Record<string, { job: string; upstream?: string }> = {
  "cri-o": { job: "e2e-node (kubernetes)" },
  "kata-containers": { job: "cri-containerd-k8s", upstream: "containerd" },
  "odl-netconf": { job: "netconf-it" },
};
/** An upstream that never installed the app: the demo's map watches it, and the demo only adds its tag (no webhook). */
export const DEMO_WATCHED = { project: "etcd", repo: "etcd-io/etcd", tag: "v3.5.17" };
/** The demo's map gives this edge a short timeout (40 steps), so a time-out shows within a minute: Nova → Kolla → here. */
export const DEMO_TIMEOUT = { downstream: "kolla-ansible", upstream: "kolla", steps: 40 };
const NEVER_REPORTS = new Set([DEMO_TIMEOUT.downstream]);
/** Functest's healthcheck tier, as the Jenkins job's test report names its cases; the build for this upstream fails its `odl` case. */
const FUNCTEST_CASES = ["connection_check", "tenantnetwork1", "vping_ssh", "odl"];
const JENKINS_FAILS: Record<string, string> = { "odl-odlparent": "odl" };
/** This failed downstream is re-run from the relay's API a little later, and passes. */
const RERUN = { upstream: "kubernetes", downstream: "cri-o" };

export interface ScriptOptions {
  relayUrl: string;
  map: DependencyMap;
  github: FakeGithub;
  gitlab: FakeGitlab;
  webhookSecret: string;
  adminToken: string;
  installationOf: (repo: string) => number | undefined;
  log: (line: string) => void;
  /** milliseconds between steps (scaled down in tests) */
  pace: number;
  /** the sandbox's GitHub web address (its front), where the runs' pages are */
  githubWeb: string;
  /** what the script played, by GitHub run id, for those pages */
  played: Map<number, PlayedRun>;
  /** the sandbox's Gerrit servers and Jenkins */
  servers: DemoServers;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Plays the demo: upstream tags across foundations; the sandbox plays each triggered downstream
 * (GitHub runs reported by workflow_run webhooks, GitLab pipelines read by the relay's polling):
 * most pass, some fail, one times out, one failure is re-run and passes. Resolves when done.
 */
export async function playDemo(o: ScriptOptions, signal: AbortSignal): Promise<void> {
  const played = new Set<string>();
  /** how often each (downstream, upstream, tag) was triggered: the second time is a re-run */
  const attempts = new Map<string, number>();
  let nextRunId = 7_000_000;
  let reran = false;
  let lastTrigger = Date.now();
  const pending: Promise<void>[] = [];

  /** A GitHub downstream run's life: queued → in progress → its conclusion (reported by webhook). */
  const playRun = async (repo: string, relayRunId: string, runId: number, projectId: string, upstream: string, tag: string, attempt: number, started: Started) => {
    const createdAt = new Date().toISOString();
    const send = (action: string, status: string, conclusion: string | null) => {
      o.played.set(runId, { repo, project: projectId, upstream, tag, status: conclusion ?? status.replace("_", " ") });
      const p = githubFixture("workflow_run.completed");
      p.action = action;
      // As GitHub reports the run the dispatch started: its event, its workflow file, when it was created.
      Object.assign(p.workflow_run, {
        id: runId, status, conclusion, display_title: `openci ${relayRunId}`, name: "CI", event: started.event, created_at: createdAt,
        ...(started.workflow ? { path: `.github/workflows/${started.workflow}` } : {}),
        html_url: `${o.githubWeb}/${repo}/actions/runs/${runId}`, run_started_at: createdAt, updated_at: new Date().toISOString(),
      });
      p.repository.full_name = repo;
      p.repository.name = repo.split("/")[1];
      p.repository.owner.login = repo.split("/")[0];
      p.installation = { id: o.installationOf(repo) ?? 1, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };
      return sendGithubDelivery(o.relayUrl, "workflow_run", p, { secret: o.webhookSecret });
    };
    await sleep(o.pace);
    await send("in_progress", "in_progress", null);
    if (NEVER_REPORTS.has(projectId)) {
      o.log(`  ⏱ ${projectId} never reports back: the relay times it out (its edge's timeout)`);
      return;
    }
    await sleep(o.pace * (2 + (runId % 3)));
    const fail = attempt === 0 ? FAILS[projectId] : undefined;
    const failing = fail && (fail.upstream === undefined || fail.upstream === upstream);
    if (failing) o.github.runJobs[runId] = [{ name: fail.job, conclusion: "failure" }, { name: "lint", conclusion: "success" }];
    o.github.runArtifacts[runId] = failing ? [{ name: "test-logs", size: 48_213 }, { name: "junit-report", size: 9_604 }] : [{ name: "build-logs", size: 20_480 }];
    await send("completed", "completed", failing ? "failure" : "success");
    o.log(`  ${failing ? "✗" : "✓"} ${projectId} ${failing ? `failed (${fail.job})` : "passed"} for ${upstream}`);
    if (failing && projectId === RERUN.downstream && upstream === RERUN.upstream && !reran) {
      reran = true;
      pending.push((async () => {
        await sleep(o.pace * 3);
        const sha = commitOf(repoOf(o.map.project(RERUN.upstream)!), "v1.31.0");
        // 409 until the relay has taken the failure in: ask again, as a person would, for at least 30 s
        // (a busy machine's relay may take that long to process the failed run's delivery).
        const patienceMs = Math.max(60 * o.pace, 30_000);
        const until = Date.now() + patienceMs;
        while (Date.now() < until && !signal.aborted) {
          const res = await fetch(`${o.relayUrl}/api/v1/reruns`, {
            method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${o.adminToken}` },
            body: JSON.stringify({ upstream: RERUN.upstream, sha, downstream: RERUN.downstream }),
          });
          if (res.status === 202) return o.log(`  ↻ re-running ${RERUN.downstream} for ${RERUN.upstream} v1.31.0`);
          if (res.status !== 409) throw new Error(`the demo's re-run was refused: ${res.status} ${await res.text()}`);
          await sleep(o.pace);
        }
        if (!signal.aborted) o.log(`  ↻ the relay did not take ${RERUN.downstream}'s failure in within ${patienceMs / 1000} s: not re-run`);
      })());
    }
  };

  /**
   * A Jenkins build's life: the queue item the relay's buildWithParameters made starts, then ends
   * with its test report (Functest's healthcheck cases) and archived results, announced by the
   * Notification plugin (the relay also polls the build: it confirms each notification there).
   */
  const playBuild = async (queueId: number) => {
    const { jenkins } = o.servers;
    const item = jenkins.item(queueId);
    const param = (name: string) => item.parameters.find((p) => p.name === name)?.value ?? "";
    const upstream = param("OPENCI_UPSTREAM");
    const tag = param("OPENCI_TAG");
    const projectId = o.map.projects().find((p) => p.trigger?.jenkins?.job === item.job)?.id ?? item.job;
    const endpoint = `${o.relayUrl}/api/jenkins/notifications/${encodeURIComponent(DEMO_SERVERS.anuket.notifySecret)}`;
    const notify = async (phase: "STARTED" | "COMPLETED") => {
      const answer = await jenkins.notify(endpoint, queueId, phase).catch((e: Error) => ({ status: 0, body: e.message }));
      if (answer.status >= 300 || answer.status === 0) o.log(`  ! the relay refused Jenkins' ${phase} notification: ${answer.status} ${answer.body}`);
    };
    o.log(`  → ${projectId} triggered by ${upstream} ${tag}: Jenkins job ${item.job} queued (item ${queueId})`);
    await sleep(o.pace);
    if (signal.aborted || item.cancelled) return;
    jenkins.startBuild(queueId);
    await notify("STARTED");
    await sleep(o.pace * 3);
    if (signal.aborted) return;
    const failing = JENKINS_FAILS[upstream];
    const tests: FakeTestCase[] = FUNCTEST_CASES.map((name) => ({ className: "functest.healthcheck", name, status: name === failing ? "FAILED" : "PASSED" }));
    // A failed test case makes the build UNSTABLE (the JUnit plugin's way): a failure for the upstream.
    const build = jenkins.finishBuild(queueId, failing ? "UNSTABLE" : "SUCCESS", { tests, artifacts: ["results/functest.log", "results/xunit.xml"] });
    await notify("COMPLETED");
    o.log(`  ${failing ? "✗" : "✓"} ${projectId} ${failing ? `failed (test functest.healthcheck.${failing})` : "passed"} for ${upstream}: Jenkins build #${build.number}`);
  };

  /** Watches the sandbox for triggers the relay sent and plays each once. */
  const watch = async () => {
    while (!signal.aborted) {
      for (const call of o.github.requests) {
        const body = call.body as { inputs?: Record<string, string>; client_payload?: Record<string, string> } | undefined;
        const ctx = call.operationId === "actions/create-workflow-dispatch" ? body?.inputs : call.operationId === "repos/create-dispatch-event" ? body?.client_payload : undefined;
        const relayRunId = ctx?.openci_run_id;
        if (!relayRunId || played.has(relayRunId)) continue;
        played.add(relayRunId);
        lastTrigger = Date.now();
        const repo = `${call.params.owner}/${call.params.repo}`;
        const project = o.map.projectsAt({ forge: "github", repo })[0];
        const runId = o.github.dispatchedRuns.find((r) => r.relayRunId === relayRunId)?.runId ?? nextRunId++;
        const seenKey = `${project?.id ?? repo}|${ctx!.openci_upstream}|${ctx!.openci_tag}`;
        const attempt = attempts.get(seenKey) ?? 0;
        attempts.set(seenKey, attempt + 1);
        o.log(`  → ${project?.id ?? repo} triggered by ${ctx!.openci_upstream} ${ctx!.openci_tag}`);
        const started: Started = call.operationId === "repos/create-dispatch-event"
          ? { event: "repository_dispatch" }
          : { event: "workflow_dispatch", workflow: call.params.workflow_id };
        pending.push(playRun(repo, relayRunId, runId, project?.id ?? repo, ctx!.openci_upstream ?? "", ctx!.openci_tag ?? "", attempt, started));
      }
      for (const pipeline of o.gitlab.pipelines) {
        const key = `gitlab-${pipeline.id}`;
        if (played.has(key)) continue;
        played.add(key);
        o.log(`  → ${pipeline.project} pipeline ${pipeline.id} created`);
        pending.push((async () => {
          await sleep(o.pace);
          pipeline.status = "running";
          await sleep(o.pace * 3);
          pipeline.jobs = [{ name: "deploy", status: "success", artifacts: "deploy-logs.tar.gz" }, { name: "functest", status: "success" }];
          pipeline.status = "success";
          o.log(`  ✓ ${pipeline.project} pipeline ${pipeline.id} passed`);
        })());
      }
      for (const item of o.servers.jenkins.queue) {
        const key = `jenkins-${item.id}`;
        if (played.has(key)) continue;
        played.add(key);
        lastTrigger = Date.now();
        pending.push(playBuild(item.id));
      }
      await sleep(100);
    }
  };

  const watching = watch();
  for (const { project, tag } of DEMO_TAGS) {
    if (signal.aborted) break;
    const p = o.map.project(project);
    if (p?.location.forge === "gerrit") {
      await tagOnGerrit(o, p.location.url, p.location.project, project, tag, signal);
      lastTrigger = Date.now();
      await sleep(o.pace * 4);
      continue;
    }
    if (!p || p.location.forge !== "github") continue;
    const repo = p.location.repo;
    o.log(`${project} tags ${tag}`);
    const payload = githubFixture("create.tag");
    payload.ref = tag;
    payload.repository.full_name = repo;
    payload.repository.name = repo.split("/")[1];
    payload.repository.owner.login = repo.split("/")[0];
    payload.installation = { id: o.installationOf(repo) ?? 1, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };
    await sendGithubDelivery(o.relayUrl, "create", payload, { secret: o.webhookSecret, id: randomUUID() });
    await sleep(o.pace * 4);
  }
  // A release of a watched upstream: nothing is sent to the relay; its next look at the tags finds it.
  const watchedRepo = o.github.repos[DEMO_WATCHED.repo];
  if (watchedRepo && !signal.aborted) {
    o.log(`${DEMO_WATCHED.project} tags ${DEMO_WATCHED.tag} (no app installed there, no webhook: the relay watches its tags)`);
    const sha = commitOf(DEMO_WATCHED.repo, DEMO_WATCHED.tag);
    watchedRepo.tags = { ...watchedRepo.tags, [DEMO_WATCHED.tag]: { type: "commit", sha } };
    watchedRepo.commitDates = { ...watchedRepo.commitDates, [sha]: new Date().toISOString() };
    lastTrigger = Date.now();
  }
  // Let cascades, the re-run and the time-out play out.
  // Done once nothing new was triggered for longer than the demo's time-out.
  while (!signal.aborted && Date.now() < lastTrigger + o.pace * (DEMO_TIMEOUT.steps + 20)) {
    await Promise.all(pending.splice(0));
    await sleep(o.pace);
  }
  void watching;
}

/**
 * A release on a Gerrit server: nothing is sent to the relay (Gerrit has no webhooks); the tag is
 * added once the relay has read the project's tags twice (the first read is its baseline), and the
 * relay's next read finds it.
 */
async function tagOnGerrit(o: ScriptOptions, url: string, gerritProject: string, project: string, tag: string, signal: AbortSignal): Promise<void> {
  const server = url === o.servers.urls.opendev ? { gerrit: o.servers.opendev, name: "OpenDev's Gerrit" } : { gerrit: o.servers.odl, name: "OpenDaylight's Gerrit" };
  const tagsPath = `/projects/${encodeURIComponent(gerritProject)}/tags/`;
  const reads = () => server.gerrit.requests.filter((r) => r.path.endsWith(tagsPath) && r.status === 200).length;
  for (let waited = 0; reads() < 2 && waited < 100 && !signal.aborted; waited++) await sleep(o.pace);
  o.log(`${project} tags ${tag} on ${server.name} (no webhook: the relay reads Gerrit's tags)`);
  server.gerrit.addTag(gerritProject, tag, { commit: commitOf(gerritProject, tag), annotated: true });
}
