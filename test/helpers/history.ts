import type { Harness } from "./relay-harness.js";
import { runIdOf, runningCheck, sendRun } from "./runs.js";
import { UPSTREAM, acmeAppRepo, octoRepo, upstreamRepo } from "./upstream.js";
import { waitFor } from "./wait-for.js";
import { octoProject } from "./maps.js";

/** hello (the fixtures' upstream, with artifacts) and two dependants, octo and acme/app, in format v2; `extra` is appended. */
export const hellosDependantsMap = (extra = "") => `
version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - id: hello
    foundation: lf
    github: ${UPSTREAM}
    artifacts: ["pkg:github/codertocat/hello-world", "pkg:oci/hello-*"]
${octoProject({ fields: ["foundation: lf"] })}  - id: acme/app
    foundation: lf
    github: acme/app
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
${extra}`;

export const hellosDependantsRepos = () => ({ [UPSTREAM]: upstreamRepo(), "octo-org/octo-repo": octoRepo(), "acme/app": acmeAppRepo() });

/**
 * The tag flows through: octo fails (a failing job, two artifacts), acme/app passes. Returns the
 * release as the API shows it, every CID of it, and the downstream run ids.
 */
export async function releaseWithAFailure(h: Harness) {
  await h.send("create.tag");
  const octoRun = runIdOf(await runningCheck(h, "openci: octo"));
  const acmeRun = runIdOf(await runningCheck(h, "openci: acme/app"));
  h.github.runJobs[octoRun] = [{ name: "unit tests", conclusion: "failure" }, { name: "lint", conclusion: "success" }];
  h.github.runArtifacts[octoRun] = [{ name: "junit-report", size: 2048 }, { name: "logs", size: 512 }];
  await sendRun(h, { id: octoRun, conclusion: "failure" });
  await sendRun(h, { id: acmeRun, repo: "acme/app", conclusion: "success" });
  await releaseWhen(h, "hello", "simple-tag", { octo: "failed", "acme/app": "passed" });
  // The failed run's artifacts are published (as test outputs) right after its result.
  const release = await waitFor("octo's test outputs", async () => {
    const { body } = await getJson(h, "/api/v1/releases/hello/simple-tag");
    return body.downstreams.find((d: any) => d.project === "octo").records.length === 4 ? body : undefined;
  });
  const cids: string[] = [release.release.cid, ...release.downstreams.flatMap((d: any) => d.records)];
  return { release, cids, octoRun, acmeRun };
}

/** GETs a relay route; returns the status and the parsed JSON body. */
export async function getJson(h: Pick<Harness, "url">, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.url}${path}`);
  return { status: res.status, body: await res.json() };
}

/** Waits until the release API shows `project`'s downstreams in these statuses, and returns the release. */
export function releaseWhen(h: Pick<Harness, "url">, project: string, tag: string, statuses: Record<string, string>): Promise<any> {
  return waitFor(`release ${project}@${tag} showing ${JSON.stringify(statuses)}`, async () => {
    const { status, body } = await getJson(h, `/api/v1/releases/${encodeURIComponent(project)}/${encodeURIComponent(tag)}`);
    if (status !== 200) return undefined;
    const now = Object.fromEntries(body.downstreams.map((d: any) => [d.project, d.status]));
    return Object.entries(statuses).every(([p, s]) => now[p] === s) ? body : undefined;
  });
}
