import { afterAll, describe, expect, it } from "@jest/globals";
import { startDemo, type Demo } from "../../demo/main.js";
import { getJson } from "../helpers/history.js";

let demo: Demo | undefined;
afterAll(async () => {
  await demo?.stop();
});

const downstreams = async (url: string, project: string, tag: string) =>
  Object.fromEntries(((await getJson({ url }, `/api/v1/releases/${project}/${tag}`)).body.downstreams ?? []).map((d: any) => [d.project, d]));

describe("npm run demo", () => {
  it("plays releases across foundations offline: passes, failures, a GitLab pipeline, cascades, a time-out, a re-run and a watched upstream", async () => {
    demo = await startDemo({ port: 0, pace: 120, quiet: true });

    await demo.played;
    const k8s = await downstreams(demo.url, "kubernetes", "v1.31.0");
    const containerd = await downstreams(demo.url, "containerd", "v2.1.0");
    const nova = await downstreams(demo.url, "nova", "29.0.1");
    const etcd = (await getJson({ url: demo.url }, "/api/v1/releases/etcd/v3.5.17")).body;
    const page = await (await fetch(`${demo.url}/`)).text();
    const etcdPage = await (await fetch(`${demo.url}/projects/etcd`)).text();
    const k8sPage = await (await fetch(`${demo.url}/projects/kubernetes`)).text();

    expect(k8s["cri-o"]).toMatchObject({ status: "passed", attempt: 1 });
    expect(k8s["cri-o"].attempts.map((a: any) => a.status)).toEqual(["failed", "passed"]);
    expect(k8s["chained-ci"]).toMatchObject({ status: "passed", chain: { path: ["kubernetes", "onap-oom", "chained-ci"] } });
    expect(k8s["kata-containers"].status).toBe("passed");
    expect(containerd["kata-containers"]).toMatchObject({ status: "failed", failedJobs: ["cri-containerd-k8s"] });
    expect(nova.functest.status).toBe("timed_out");
    expect(nova.kolla.status).toBe("passed");
    // etcd has no app and sends no webhook: the watcher found its tag, kubernetes ran for it
    expect(etcd.release.source).toBe("watch");
    expect(etcd.downstreams.map((d: any) => [d.project, d.status])).toEqual([["kubernetes", "passed"]]);
    expect(page).toContain("OpenInfra Foundation");
    // the dashboard marks the watched upstream and the release its watcher found
    expect(page).toMatch(/etcd<br>v3\.5\.17<\/a><div class="small muted"><time[^>]*>[^<]*<\/time><br><span title="[^"]*">watched<\/span>/);
    expect(etcdPage).toContain("<dt>Watched</dt><dd>no webhook comes from it: the relay reads its tags at the relay&#39;s watch interval, and writes nothing there</dd>");
    expect(k8sPage).not.toContain("<dt>Watched</dt>");
    expect(page).toContain('data-downstream="kata-containers" data-status="failed"');
  }, 90_000);
});
