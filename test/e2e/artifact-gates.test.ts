import { afterEach, describe, expect, it } from "@jest/globals";
import { digestCid } from "../../src/artifacts/oci.js";
import { FakePypi } from "../fakes/pypi/fake-pypi.js";
import { skipBackoff } from "../helpers/backoff.js";
import { getJson } from "../helpers/history.js";
import { metric } from "../helpers/metrics.js";
import { startOciRegistry, type OciRegistry } from "../helpers/oci-registry.js";
import type { Harness } from "../helpers/relay-harness.js";
import { UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * `after_artifacts` end to end: the REAL registry (Debian's docker-registry with its token server,
 * test/helpers/oci-registry.ts) and the PyPI fake made from PyPI's documented JSON API. The gate's
 * backoff waits are skipped (test/helpers/backoff.ts); every look still runs.
 */
const map = (oci: string, pypi: string, edge: string) => `
version: 2
foundations: [{ id: lf, name: Linux Foundation }]
projects:
  - id: hello
    foundation: lf
    github: ${UPSTREAM}
    artifacts:
      - "pkg:oci/app@{tag}?repository_url=${oci}/hello/app"
      - "pkg:pypi/hello-lib@{version}?repository_url=${pypi}"
  - id: acme/gated
    foundation: lf
    github: acme/gated
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello, ${edge} }]
`;
const repos = () => ({ [UPSTREAM]: upstreamRepo(), "acme/gated": { installationId: 2, workflows: { "ci.yml": {} } } });
const startHarness = useHarness();
const gatedCheck = (h: Harness) => downstreamChecks(h.github).find((c) => c.name === "openci: acme/gated");
const dispatches = (h: Harness) => h.github.calls("actions/create-workflow-dispatch");
const LOOKS = { queue: "trigger", name: "artifacts", why: "the artifact gate looks again after a backoff" } as const;

describe("after_artifacts gates", () => {
  let registry: OciRegistry | undefined;
  let pypi: FakePypi | undefined;
  afterEach(async () => {
    const problems = pypi?.server.problems ?? [];
    await registry?.stop();
    await pypi?.stop();
    [registry, pypi] = [undefined, undefined];
    expect(problems).toEqual([]);
  });

  it("waits until the image is pushed and the package published, then triggers once with their digests in the record and the inputs", async () => {
    registry = await startOciRegistry({ auth: "token" });
    pypi = await FakePypi.start();
    const h = await startHarness({ map: map(registry.base, pypi.base, "after_artifacts: true"), repos: repos() });
    const checks = (type: string, outcome: string) => metric(h.url, "openci_artifact_checks_total", { type, outcome });
    const before = { ociMissing: await checks("oci", "missing"), ociPublished: await checks("oci", "published"), pypiPublished: await checks("pypi", "published") };
    const latencies = await metric(h.url, "openci_tag_to_trigger_seconds_count");

    await h.send("create.tag");
    // The check's output is replaced on each update: this one is the first the relay wrote.
    const waiting = (await waitFor("the waiting check", () => gatedCheck(h))).output;
    await h.idle({ ignore: [LOOKS], watch: [registry, pypi.server] });
    const dispatchedEarly = dispatches(h).length;
    const pushed = await registry.push("hello/app", "simple-tag");
    const { sha256 } = pypi.publish("hello-lib", "simple-tag", [{ filename: "hello_lib-simple-tag.tar.gz", content: "sdist bytes" }]);
    await skipBackoff(h.redisUrl, "trigger", "artifacts", () => dispatches(h).length > 0);
    await h.idle({ watch: [pypi.server] });
    const { body: release } = await getJson(h, "/api/v1/releases/hello/simple-tag");
    const after = { ociMissing: await checks("oci", "missing"), ociPublished: await checks("oci", "published"), pypiPublished: await checks("pypi", "published") };

    expect(waiting.title).toBe("Waiting for artifacts: 0 of 2 published");
    // /metrics counts each registry check: the image missing at least once, then each artifact published once
    expect(after.ociMissing - before.ociMissing).toBeGreaterThanOrEqual(1);
    expect([after.ociPublished - before.ociPublished, after.pypiPublished - before.pypiPublished]).toEqual([1, 1]);
    expect(waiting.summary).toMatch(/\*\*missing\*\*: `pkg:pypi\/hello-lib@\u2060?simple-tag\?repository_url=/);
    expect(dispatchedEarly).toBe(0);
    expect(dispatches(h)).toHaveLength(1);
    // The tag → trigger latency is the relay's own: the wait for the registries is not in it.
    expect(await metric(h.url, "openci_tag_to_trigger_seconds_count")).toBe(latencies);
    const inputs = dispatches(h)[0]!.body.inputs as Record<string, string>;
    const sent = JSON.parse(inputs.openci_artifacts!) as { purl: string; digests: { digest: string; cid?: string }[] }[];
    expect(sent.map((a) => a.digests.map((d) => [d.digest, d.cid]))).toEqual([
      [[pushed.digest, digestCid(pushed.digest)!.toString()]],
      [[`sha256:${sha256[0]}`, digestCid(`sha256:${sha256[0]}`)!.toString()]],
    ]);
    const downstream = (release as { downstreams: { project: string; status: string; gate: string; releaseArtifacts: unknown }[] }).downstreams[0]!;
    expect(downstream).toMatchObject({ project: "acme/gated", gate: "after_artifacts" });
    expect(downstream.releaseArtifacts).toEqual(sent.map((a) => ({ purl: a.purl, published: true, digests: a.digests })));
    expect(registry.requests.filter((r) => r.method === "HEAD").every((r) => r.path === "/v2/hello/app/manifests/simple-tag")).toBe(true);
  });

  it("skips the downstream at the edge's timeout, naming the artifact that is missing", async () => {
    registry = await startOciRegistry({ auth: "token" });
    pypi = await FakePypi.start();
    await registry.push("hello/app", "simple-tag");
    const h = await startHarness({ map: map(registry.base, pypi.base, "after_artifacts: true, timeout: 2s"), repos: repos() });

    await h.send("create.tag");
    const skipped = await waitFor("the skipped check", () => (gatedCheck(h)?.status === "completed" ? gatedCheck(h) : undefined));
    await h.idle({ watch: [pypi.server] });

    expect(skipped.conclusion).toBe("skipped");
    expect(skipped.output.title).toBe("Skipped: acme/gated (artifacts missing: 1 of 2)");
    expect(skipped.output.summary).toMatch(/Not triggered: pkg:pypi\/hello-lib@\u2060?simple-tag\?repository_url=\S+ was not published within 2s \(the edge's timeout\)/);
    expect(dispatches(h)).toHaveLength(0);
  });
});
