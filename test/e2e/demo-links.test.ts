import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, describe, expect, it } from "@jest/globals";
import { DEMO_ADMIN_TOKEN, startDemo, type Demo } from "../../demo/main.js";
import { getJson } from "../helpers/history.js";

let demo: Demo | undefined;
afterAll(async () => {
  await demo?.stop();
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
};

describe("npm run demo: its loose ends", () => {
  it("hands out links that lead to the sandbox's pages, pluralises, serves the board offline, and says it stops with DEMO_EXIT=1", async () => {
    const lines: string[] = [];
    demo = await startDemo({ port: 0, pace: 120, say: (l) => lines.push(l), exitWhenPlayed: true });

    await demo.played;
    const k8s = (await getJson({ url: demo.url }, "/api/v1/releases/kubernetes/v1.31.0")).body.downstreams as { project: string; url?: string; artifacts: { url: string }[] }[];
    const containerd = (await getJson({ url: demo.url }, "/api/v1/releases/containerd/v2.1.0")).body.downstreams as { project: string; url?: string; artifacts: { url: string }[] }[];
    // Nova and odlparent (on the sandbox's Gerrit servers): Functest ran for them on its Jenkins
    const gerritReleases = await Promise.all([["nova", "30.0.0"], ["odl-odlparent", "v14.0.0"]].map(async ([p, t]) =>
      (await getJson({ url: demo!.url }, `/api/v1/releases/${p}/${t}`)).body.downstreams as { project: string; url?: string; artifacts: { url: string }[] }[]));
    const all = [...k8s, ...containerd, ...gerritReleases.flat()];
    const runs = all.filter((d) => d.url);
    const pages = await Promise.all(runs.map(async (d) => ({ project: d.project, url: d.url!, page: await get(d.url!) })));
    const artifacts = await Promise.all(all.flatMap((d) => d.artifacts).map(async (a) => ({ url: a.url, page: await get(a.url) })));
    const builds = pages.filter((p) => p.project === "functest");
    const jenkinsArtifacts = artifacts.filter((a) => a.url.includes("/ci/job/functest/"));
    const failed = pages.find((p) => p.project === "kata-containers" && /cri-containerd-k8s/.test(p.page.text));
    const pipeline = pages.find((p) => p.project === "chained-ci");
    const projects = await get(`${demo.url}/projects`);
    const board = await get(`${demo.url}/admin/queues`, { authorization: `Bearer ${DEMO_ADMIN_TOKEN}`, accept: "text/html" });
    const template = readFileSync(createRequire(import.meta.url).resolve("@bull-board/ui/dist/index.ejs"), "utf8");

    expect(lines.at(-1)).toContain("stopping the relay, the sandbox and Redis (DEMO_EXIT=1)");
    expect(lines.join("\n")).not.toContain("keeps running");
    // every run the demo shows links to a page the sandbox serves, not to github.com
    expect(runs.length).toBeGreaterThan(5);
    expect(pages.filter((p) => !p.url.startsWith("http://127.0.0.1:") || p.page.status !== 200 || !p.page.type.startsWith("text/html")).map((p) => p.url)).toEqual([]);
    expect(pages.filter((p) => !p.page.text.includes("Played by the demo's forge sandbox")).map((p) => p.url)).toEqual([]);
    expect(failed?.page.text).toContain("test-logs");
    expect(pipeline?.page.text).toMatch(/Pipeline \d+ of /);
    // a Jenkins build's link leads to the sandbox's page of that build: its parameters, result and test report
    expect(builds.map((b) => new URL(b.url).pathname).sort()).toEqual(["/ci/job/functest/job/functest-openci-healthcheck/1/", "/ci/job/functest/job/functest-openci-healthcheck/2/"]);
    expect(builds.find((b) => b.page.text.includes("UNSTABLE"))?.page.text).toContain("functest.healthcheck.odl: FAILED");
    expect(builds.find((b) => b.page.text.includes("SUCCESS"))?.page.text).toContain("<code>OPENCI_UPSTREAM</code> = <code>nova</code>");
    expect(jenkinsArtifacts.map((a) => a.url.replace(/^.*\/(\d+\/artifact\/)/, "$1")).sort()).toEqual(["1/artifact/results/functest.log", "1/artifact/results/xunit.xml", "2/artifact/results/functest.log", "2/artifact/results/xunit.xml"]);
    expect(artifacts.length).toBeGreaterThan(3);
    expect(artifacts.filter((a) => a.page.status !== 200).map((a) => a.url)).toEqual([]);
    // "1 dependant", never "1 dependants"
    expect(projects.text).toMatch(/\b1 dependant,/);
    expect(projects.text).not.toMatch(/\b1 (dependants|upstreams)\b/);
    // Bull Board's page, as the relay serves it, loads no font from Google (the package's own template does)
    expect(template).toContain("fonts.googleapis.com");
    expect(board.status).toBe(200);
    expect(board.text).toContain("static/js/main");
    expect(board.text).not.toMatch(/fonts\.(googleapis|gstatic)\.com/);
  }, 90_000);
});
