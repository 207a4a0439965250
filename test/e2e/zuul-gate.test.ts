import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { octoRepo } from "../helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM } from "../helpers/runs.js";
import { getJson, releaseWhen } from "../helpers/history.js";
import { skipBackoff } from "../helpers/backoff.js";
import { waitFor } from "../helpers/wait-for.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeZuul } from "../fakes/zuul/fake-zuul.js";

/**
 * A Zuul-built Gerrit upstream as a gate (issue 20 part 4): `after_check: release` on an edge from a
 * Gerrit project with `zuul: { url, tenant }` waits for that tag's buildset in the release pipeline
 * ("Nova's release pipeline succeeded, so its tarballs exist"). Zuul sends the relay nothing, so the
 * gate is polled (later and later; the test skips the waits).
 */
const mapFor = (gerrit: FakeGerrit, zuul: FakeZuul) => `
version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
  - id: nova
    foundation: openinfra
    gerrit: { url: ${gerrit.url}, project: openstack/nova, zuul: { url: ${zuul.base}, tenant: openstack } }
  - id: octo
    foundation: openinfra
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: nova, after_check: release }]
`;

const ENV = { OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300" };
const WATCHER: Ignored = { queue: "events", name: "watch-poll", why: "a Gerrit upstream is polled for the whole test" };
const GATE_POLL: Ignored = { queue: "trigger", name: "gate-poll", why: "the gate's next look at Zuul waits its backoff" };

const startHarness = useHarness();
let gerrit: FakeGerrit;
let zuul: FakeZuul;
beforeEach(async () => {
  gerrit = await FakeGerrit.start();
  gerrit.addProject("openstack/nova");
  gerrit.addTag("openstack/nova", "29.0.0");
  zuul = await FakeZuul.start();
});
afterEach(async () => {
  expect(gerrit.problems).toEqual([]);
  expect(zuul.problems).toEqual([]);
  await gerrit.stop();
  await zuul.stop();
});

const dispatched = (h: Harness) => h.github.calls("actions/create-workflow-dispatch").map((c) => c.body.inputs.openci_tag);
const zuulAsked = () => zuul.requests.filter((r) => r.path === "/api/tenant/openstack/buildsets").length;

async function taggedAndWaiting(h: Harness, tag: string): Promise<void> {
  await waitFor("the baseline", () => h.logs.some((l) => l.includes("watch: baseline taken")), 10_000);
  gerrit.addTag("openstack/nova", tag);
  await waitFor("the gate's first look at Zuul", () => zuulAsked() >= 1, 10_000);
  await h.idle({ ignore: [WATCHER, GATE_POLL] });
}

describe("a Zuul pipeline as the gate of a Gerrit upstream (issue 20)", () => {
  it("waits while the tag has no buildset and while it runs, then triggers once the release pipeline succeeded", async () => {
    const h = await startHarness({ map: mapFor(gerrit, zuul), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });
    await taggedAndWaiting(h, "30.0.0");
    expect(dispatched(h)).toEqual([]);

    // Running: looked at again, still waiting.
    const buildset = zuul.addBuildset({ project: "openstack/nova", ref: "refs/tags/30.0.0", pipeline: "release" });
    const before = zuulAsked();
    await skipBackoff(h.redisUrl, "trigger", "gate-poll", () => zuulAsked() > before);
    await h.idle({ ignore: [WATCHER, GATE_POLL] });
    expect(dispatched(h)).toEqual([]);

    zuul.finish(buildset.uuid, "SUCCESS");
    await skipBackoff(h.redisUrl, "trigger", "gate-poll", () => dispatched(h).length > 0);
    await h.idle({ ignore: [WATCHER] });

    expect(dispatched(h)).toEqual(["30.0.0"]);
    // Zuul was asked about that tag in that pipeline of that project, nothing else.
    const asked = zuul.requests.map((r) => new URLSearchParams(r.query));
    expect(asked.every((q) => q.get("project") === "openstack/nova" && q.get("pipeline") === "release" && q.get("ref") === "refs/tags/30.0.0")).toBe(true);
    const { body } = await getJson(h, "/api/v1/releases/nova/30.0.0");
    expect(body.downstreams[0]).toMatchObject({ project: "octo", gate: "release" });
  }, 60_000);

  it("skips the downstream when the release pipeline failed, and stops looking", async () => {
    const h = await startHarness({ map: mapFor(gerrit, zuul), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: ENV });
    await taggedAndWaiting(h, "31.0.0");

    zuul.addBuildset({ project: "openstack/nova", ref: "refs/tags/31.0.0", pipeline: "release", result: "POST_FAILURE" });
    await skipBackoff(h.redisUrl, "trigger", "gate-poll", () => h.logs.some((l) => l.includes("gate failed: dependants skipped")));
    await h.idle({ ignore: [WATCHER] });
    const asked = zuulAsked();

    const release = await releaseWhen(h, "nova", "31.0.0", { octo: "skipped" });
    expect(dispatched(h)).toEqual([]);
    expect(release.downstreams[0]).toMatchObject({ project: "octo", gate: "release" });
    // No look is left queued: nothing more asks Zuul.
    await h.idle({ ignore: [WATCHER] });
    expect(zuulAsked()).toBe(asked);
  }, 60_000);
});
