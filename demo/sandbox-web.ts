import { createServer, request, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { html, type Html } from "../src/web/dashboard/html.js";
import { layout } from "../src/web/dashboard/layout.js";
import type { FakeGithub } from "../test/fakes/github/fake-github.js";
import type { FakeGitlab } from "../test/fakes/gitlab/fake-gitlab.js";
import type { FakeJenkins } from "../test/fakes/jenkins/fake-jenkins.js";

/**
 * The sandbox's web side. A real forge's run, job and artifact links lead to pages of that forge;
 * the fakes answer only their APIs. So each fake gets a front on its own port: its API passes
 * through (the fake's address in its answers becomes the front's, so every link the relay is handed
 * points here), and its web addresses get a small page saying what the sandbox played there, and
 * that it was simulated. The relay is configured with the fronts (GHE_HOST, GITLAB_URL, the Jenkins
 * URL in the demo's map), exactly as with a real GitHub Enterprise, GitLab or Jenkins.
 */
export interface SandboxFront {
  url: string;
  host: string;
  stop(): Promise<void>;
}

/** What the demo's script played for a GitHub run, by run id: the page shows it. */
export interface PlayedRun {
  repo: string;
  project: string;
  upstream: string;
  tag: string;
  status: string;
}

type Page = { title: string; main: Html } | undefined;

/** `target` is the fake's origin; `isApi` tells its API's paths (passed through) from web pages (answered here). */
async function startFront(target: string, page: (path: string) => Page, isApi: (path: string) => boolean = (path) => path.startsWith("/api/")): Promise<SandboxFront> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (!isApi(path)) {
      const shown = req.method === "GET" ? page(decodeURI(path)) : undefined;
      const body = shown ?? {
        title: "Not in the sandbox",
        main: html`<h1>Not in the sandbox</h1><p>The demo's forge sandbox has no page at <code>${path}</code>: it plays only the runs the demo triggered.</p>`,
      };
      res.writeHead(shown ? 200 : 404, { "content-type": "text/html; charset=utf-8" }).end(layout(body).text);
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: IncomingHttpHeaders = { ...req.headers, host: new URL(target).host };
      const upstream = request(`${target}${req.url}`, { method: req.method, headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on("data", (c: Buffer) => parts.push(c));
        answer.on("end", () => {
          const own = `http://${(server.address() as AddressInfo).address}:${(server.address() as AddressInfo).port}`;
          const text = Buffer.concat(parts).toString("utf8").replaceAll(target, own);
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(answer.headers)) {
            if (v === undefined || k === "content-length" || k === "transfer-encoding" || k === "connection") continue;
            out[k] = Array.isArray(v) ? v.map((x) => x.replaceAll(target, own)) : v.replaceAll(target, own);
          }
          res.writeHead(answer.statusCode ?? 502, { ...out, "content-length": String(Buffer.byteLength(text)) }).end(text);
        });
      });
      upstream.on("error", (error) => res.writeHead(502, { "content-type": "text/plain" }).end(`sandbox front: ${error.message}`));
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

const SIMULATED = html`<p class="small muted">Played by the demo's forge sandbox (<code>npm run demo</code>): nothing ran, and there is no file to download.
On a real forge this address is the run's own page.</p>`;

const size = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The front of the fake GitHub: runs, their jobs and artifacts, as the script played them. */
export function startGithubFront(github: FakeGithub, played: Map<number, PlayedRun>): Promise<SandboxFront> {
  return startFront(`http://${github.host}`, (path) => {
    const m = /^\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)(?:\/(artifacts|job)\/(\d+))?$/.exec(path);
    if (!m) return undefined;
    const [, repo, id, kind, sub] = m;
    const runId = Number(id);
    const run = played.get(runId);
    const jobs = github.runJobs[runId] ?? [];
    const artifacts = github.runArtifacts[runId] ?? [];
    const what = run ? html`<p><strong>${run.project}</strong> (<code>${repo}</code>) for <strong>${run.upstream} ${run.tag}</strong>: <strong>${run.status}</strong>.</p>` : html`<p>A run of <code>${repo}</code> the sandbox started.</p>`;
    if (kind === "artifacts") {
      const artifact = artifacts[(Number(sub) - runId * 10)];
      return { title: `Artifact of run ${runId}`, main: html`<h1>Artifact ${artifact?.name ?? sub}</h1>${what}<p>${artifact ? `${size(artifact.size)}, ` : ""}from <a href="/${repo}/actions/runs/${runId}">run ${runId}</a>.</p>${SIMULATED}` };
    }
    if (kind === "job") {
      const job = jobs[Number(sub) - runId * 100];
      return { title: `Job of run ${runId}`, main: html`<h1>Job ${job?.name ?? sub}</h1>${what}<p>${job?.conclusion ?? "running"}, in <a href="/${repo}/actions/runs/${runId}">run ${runId}</a>.</p>${SIMULATED}` };
    }
    return {
      title: `Run ${runId} of ${repo}`,
      main: html`<h1>Run ${runId} of ${repo}</h1>${what}
${jobs.length > 0 ? html`<h2>Jobs</h2><ul>${jobs.map((j) => html`<li>${j.name}: ${j.conclusion ?? "running"}</li>`)}</ul>` : ""}
${artifacts.length > 0 ? html`<h2>Artifacts</h2><ul>${artifacts.map((a, i) => html`<li><a href="/${repo}/actions/runs/${runId}/artifacts/${runId * 10 + i}">${a.name}</a> (${size(a.size)})</li>`)}</ul>` : ""}
${SIMULATED}`,
    };
  });
}

/** The front of the fake GitLab: pipelines and their jobs. */
export function startGitlabFront(gitlab: FakeGitlab): Promise<SandboxFront> {
  return startFront(gitlab.url, (path) => {
    const m = /^\/(.+?)\/-\/(pipelines|jobs)\/(\d+)(\/artifacts\/download)?$/.exec(path);
    if (!m) return undefined;
    const [, project, kind, id, download] = m;
    if (kind === "jobs") {
      const what = download ? `The artifacts archive of job ${id}` : `Job ${id}`;
      return { title: `${what} of ${project}`, main: html`<h1>${what} of ${project}</h1><p>A job of a pipeline the sandbox played.</p>${SIMULATED}` };
    }
    if (download) return undefined;
    const pipeline = gitlab.pipelines.find((p) => p.id === Number(id) && p.project === project);
    if (!pipeline) return undefined;
    const upstream = (key: string) => pipeline.variables.find((v) => v.key === key)?.value ?? "?";
    return {
      title: `Pipeline ${id} of ${project}`,
      main: html`<h1>Pipeline ${id} of ${project}</h1>
<p>On <code>${pipeline.ref}</code> for <strong>${upstream("OPENCI_UPSTREAM")} ${upstream("OPENCI_TAG")}</strong>: <strong>${pipeline.status}</strong>.</p>
${pipeline.jobs.length > 0 ? html`<h2>Jobs</h2><ul>${pipeline.jobs.map((j) => html`<li>${j.name}: ${j.status}${j.artifacts ? ` (artifacts: ${j.artifacts})` : ""}</li>`)}</ul>` : ""}
${SIMULATED}`,
    };
  });
}

/**
 * The front of the fake Jenkins: its remote access API (`…/api/json`, `…/buildWithParameters`)
 * passes through; a job's page, a build's page (its parameters, result and test report) and an
 * archived artifact's are pages here, as the sandbox played them.
 */
export function startJenkinsFront(jenkins: FakeJenkins): Promise<SandboxFront> {
  const base = new URL(jenkins.url);
  const context = base.pathname.replace(/\/+$/, "");
  return startFront(base.origin, (path) => {
    if (!path.startsWith(`${context}/`)) return undefined;
    const m = /^((?:\/job\/[^/]+)+)\/(?:(\d+)\/(?:artifact\/(.+))?)?$/.exec(path.slice(context.length));
    if (!m) return undefined;
    const [, jobPath, number, artifact] = m;
    const job = jobPath!.split("/job/").slice(1).join("/");
    const jobHref = `${context}${jobPath}/`;
    const builds = jenkins.builds.filter((b) => b.job === job);
    if (builds.length === 0 && !jenkins.queue.some((q) => q.job === job)) return undefined;
    const param = (b: { parameters: { name: string; value: string }[] }, name: string) => b.parameters.find((p) => p.name === name)?.value ?? "?";
    const result = (b: (typeof builds)[number]) => (b.building ? "building" : b.result ?? "?");
    if (number === undefined) {
      return {
        title: `Jenkins job ${job}`,
        main: html`<h1>Jenkins job ${job}</h1><p>A parameterised job the relay starts with the OPENCI_* build parameters.</p>
${builds.length > 0 ? html`<h2>Builds</h2><ul>${builds.map((b) => html`<li><a href="${jobHref}${String(b.number)}/">#${String(b.number)}</a> for ${param(b, "OPENCI_UPSTREAM")} ${param(b, "OPENCI_TAG")}: ${result(b)}</li>`)}</ul>` : html`<p>Its build waits in the queue.</p>`}
${SIMULATED}`,
      };
    }
    const build = builds.find((b) => b.number === Number(number));
    if (!build) return undefined;
    const buildHref = `${jobHref}${number}/`;
    if (artifact !== undefined) {
      return { title: `Artifact of ${job} #${number}`, main: html`<h1>Artifact ${artifact}</h1><p>Archived by <a href="${buildHref}">${job} #${number}</a>.</p>${SIMULATED}` };
    }
    const failing = (build.tests ?? []).filter((t) => t.status === "FAILED" || t.status === "REGRESSION");
    return {
      title: `${job} #${number}`,
      main: html`<h1>${job} #${number}</h1>
<p>For <strong>${param(build, "OPENCI_UPSTREAM")} ${param(build, "OPENCI_TAG")}</strong> (<code>${param(build, "OPENCI_SHA").slice(0, 12)}</code>): <strong>${result(build)}</strong>.</p>
<h2>Build parameters</h2><ul>${build.parameters.map((p) => html`<li><code>${p.name}</code> = <code>${p.value}</code></li>`)}</ul>
${build.tests ? html`<h2>Test result</h2><p>${String(failing.length)} failing of ${String(build.tests.length)}</p><ul>${build.tests.map((t) => html`<li>${t.className}.${t.name}: ${t.status}</li>`)}</ul>` : ""}
${build.artifacts.length > 0 ? html`<h2>Artifacts</h2><ul>${build.artifacts.map((a) => html`<li><a href="${buildHref}artifact/${a}">${a}</a></li>`)}</ul>` : ""}
${SIMULATED}`,
    };
  }, (path) => path.endsWith("/api/json") || path.endsWith("/buildWithParameters"));
}
