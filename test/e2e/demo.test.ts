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
  it("plays releases across foundations offline: passes, failures, a GitLab pipeline, cascades, a time-out, a re-run, a watched upstream, Gerrit upstreams and a Jenkins downstream", async () => {
    demo = await startDemo({ port: 0, pace: 120, quiet: true });

    await demo.played;
    const k8s = await downstreams(demo.url, "kubernetes", "v1.31.0");
    const containerd = await downstreams(demo.url, "containerd", "v2.1.0");
    const nova = await downstreams(demo.url, "nova", "30.0.0");
    const odl = await downstreams(demo.url, "odl-odlparent", "v14.0.0");
    const novaRelease = (await getJson({ url: demo.url }, "/api/v1/releases/nova/30.0.0")).body.release;
    const odlRelease = (await getJson({ url: demo.url }, "/api/v1/releases/odl-odlparent/v14.0.0")).body.release;
    const functestPage = await (await fetch(`${demo.url}/projects/functest`)).text();
    const { opendev, odl: odlGerrit, jenkins } = demo.servers;
    const etcd = (await getJson({ url: demo.url }, "/api/v1/releases/etcd/v3.5.17")).body;
    const page = await (await fetch(`${demo.url}/`)).text();
    const etcdPage = await (await fetch(`${demo.url}/projects/etcd`)).text();
    const k8sPage = await (await fetch(`${demo.url}/projects/kubernetes`)).text();
    const novaPage = await (await fetch(`${demo.url}/projects/nova`)).text();

    expect(k8s["cri-o"]).toMatchObject({ status: "passed", attempt: 1 });
    expect(k8s["cri-o"].attempts.map((a: any) => a.status)).toEqual(["failed", "passed"]);
    expect(k8s["chained-ci"]).toMatchObject({ status: "passed", chain: { path: ["kubernetes", "onap-oom", "chained-ci"] } });
    expect(k8s["kata-containers"].status).toBe("passed");
    expect(containerd["kata-containers"]).toMatchObject({ status: "failed", failedJobs: ["cri-containerd-k8s"] });
    expect(nova.kolla.status).toBe("passed");
    expect(nova["kolla-ansible"]).toMatchObject({ status: "timed_out", chain: { path: ["nova", "kolla", "kolla-ansible"] } });
    expect(nova["starlingx-config"]).toMatchObject({ status: "passed", chain: { path: ["nova", "kolla", "openstack-helm", "starlingx-config"] } });
    // Nova and odlparent are on their Gerrit servers: no webhook, the relay read their tags (OpenDev's anonymously, OpenDaylight's as the map's account)
    expect(novaRelease).toMatchObject({ forge: "gerrit", repo: "openstack/nova", source: "watch" });
    expect(odlRelease).toMatchObject({ forge: "gerrit", repo: "odlparent", source: "watch" });
    expect(new Set(odlGerrit.requests.filter((r) => r.path.includes("/a/")).map((r) => r.user))).toEqual(new Set(["openci-odl"]));
    expect([...opendev.problems, ...odlGerrit.problems, ...jenkins.problems]).toEqual([]);
    // Functest runs on Anuket's Jenkins: one build per release, its failing test named
    expect(nova.functest).toMatchObject({ status: "passed" });
    expect(odl.functest).toMatchObject({ status: "failed", failedJobs: ["functest.healthcheck.odl"] });
    expect(odl["odl-controller"].status).toBe("passed");
    expect(jenkins.builds.map((b) => [b.parameters.find((p) => p.name === "OPENCI_UPSTREAM")?.value, b.result]).sort()).toEqual([["nova", "SUCCESS"], ["odl-odlparent", "UNSTABLE"]]);
    expect(jenkins.queue.flatMap((q) => q.dropped)).toEqual([]);
    expect(jenkins.notifications.map((n) => n.status)).toEqual([202, 202, 202, 202]);
    // etcd has no app and sends no webhook: the watcher found its tag, kubernetes ran for it
    expect(etcd.release.source).toBe("watch");
    expect(etcd.downstreams.map((d: any) => [d.project, d.status])).toEqual([["kubernetes", "passed"]]);
    expect(page).toContain("OpenInfra Foundation");
    // the dashboard marks the watched upstream and the release its watcher found
    expect(page).toMatch(/etcd<br>v3\.5\.17<\/a><div class="small muted"><time[^>]*>[^<]*<\/time><br><span title="[^"]*">watched<\/span>/);
    expect(etcdPage).toContain("<dt>Watched</dt><dd>no webhook comes from it: the relay reads its tags at the relay&#39;s watch interval, and writes nothing there</dd>");
    expect(k8sPage).not.toContain("<dt>Watched</dt>");
    // a Gerrit upstream is always watched; a Jenkins downstream says where its pipeline runs
    expect(novaPage).toContain("<dt>Watched</dt><dd>no webhook comes from Gerrit: the relay reads its tags at the relay&#39;s watch interval; nothing is written about its tags there</dd>");
    expect(novaPage).toMatch(/<dt>Where<\/dt><dd>gerrit: 127\.0\.0\.1:\d+ openstack\/nova<\/dd>/);
    expect(functestPage).toMatch(/<dt>Runs on<\/dt><dd>Jenkins: job <code>functest\/functest-openci-healthcheck<\/code> on 127\.0\.0\.1:\d+<\/dd>/);
    expect(k8sPage).not.toContain("<dt>Runs on</dt>");
    expect(page).toContain('data-downstream="kata-containers" data-status="failed"');
    // the Gerrit releases and the Jenkins downstream on the board like the rest
    expect(page).toMatch(/nova<br>30\.0\.0<\/a><div class="small muted"><time[^>]*>[^<]*<\/time><br><span title="[^"]*">watched<\/span>/);
    expect(page).toContain("odl-odlparent<br>v14.0.0");
    expect(page).toContain('data-downstream="functest" data-status="passed"');
    expect(page).toContain('data-downstream="functest" data-status="failed"');
    expect(functestPage).toContain("<dt>CI</dt><dd>jenkins</dd>");
  }, 90_000);
});
