import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import type { Ignored } from "../helpers/idle.js";
import type { Harness } from "../helpers/relay-harness.js";
import { useHarness } from "../helpers/scenario.js";
import { octoRepo } from "../helpers/upstream.js";
import { EXAMPLE_DOWNSTREAM } from "../helpers/runs.js";
import { releaseWhen } from "../helpers/history.js";
import { waitFor } from "../helpers/wait-for.js";
import { sshKeyPair } from "../helpers/keys.js";
import { gerritNova } from "../helpers/maps.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeGerritSsh } from "../fakes/gerrit/fake-gerrit-ssh.js";

/**
 * An upstream on a Gerrit server (issue 20 part 1): no webhook comes from Gerrit, so the relay polls
 * its tags through the REST API (under /a/ with the map's HTTP credentials) and, where the map gives
 * SSH, follows `gerrit stream-events` too. Either way, a new tag triggers its GitHub downstream once.
 */
const mapFor = (gerrit: FakeGerrit, ssh?: FakeGerritSsh, hostKey = ssh?.hostPublicKey) => `
version: 2
foundations: [{ id: openinfra, name: OpenInfra Foundation }]
projects:
${gerritNova(gerrit, { ...(ssh ? { ssh } : {}), ...(hostKey ? { hostKey } : {}) })}  - id: octo
    foundation: openinfra
    github: ${EXAMPLE_DOWNSTREAM}
    trigger: { workflow: test.yml, ref: master }
    depends_on: [{ project: nova, tags: "v*" }]
`;

const keys = sshKeyPair();
const ENV = {
  GERRIT_USER: "openci", GERRIT_PASSWORD: "http-password", GERRIT_SSH_USER: "openci", GERRIT_SSH_KEY: keys.private,
};
/** Polls every 300 ms (OPENCI_WATCH_MIN_INTERVAL_MS lowered for the test). */
const FAST = { ...ENV, OPENCI_WATCH_MIN_INTERVAL_MS: "200", OPENCI_WATCH_INTERVAL_MS: "300" };
/** Polls once an hour: in the streamed test, only the stream can bring a tag in time. */
const SLOW = { ...ENV, OPENCI_WATCH_INTERVAL_MS: "3600000" };

const WATCHER: Ignored = { queue: "events", name: "watch-poll", why: "a Gerrit upstream is polled for the whole test" };

const startHarness = useHarness();
let gerrit: FakeGerrit;
beforeEach(async () => {
  gerrit = await FakeGerrit.start({ contextPath: "/r", user: "openci", password: "http-password" });
  gerrit.addProject("openstack/nova");
});
afterEach(async () => {
  expect(gerrit.problems).toEqual([]);
  await gerrit.stop();
});

const tagReads = () => gerrit.requests.filter((r) => r.path === "/r/a/projects/openstack%2Fnova/tags/").length;
const dispatched = (h: Harness) =>
  h.github.calls("actions/create-workflow-dispatch").map((c) => `${c.body.inputs.openci_tag}@${c.body.inputs.openci_sha}`);

async function quiet(h: Harness): Promise<void> {
  const now = tagReads();
  await waitFor("two more polls of Gerrit", () => tagReads() >= now + 2, 10_000);
  await h.idle({ ignore: [WATCHER] });
}

describe("an upstream on Gerrit (issue 20)", () => {
  it("polled: a baseline, then each new tag once (an annotated tag by its commit), read as the map's account under the context path", async () => {
    gerrit.addTag("openstack/nova", "v29.0.0", { annotated: true });
    const h = await startHarness({ map: mapFor(gerrit), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: FAST });
    await waitFor("the baseline", () => h.logs.some((l) => l.includes("watch: baseline taken") && l.includes('"upstream":"nova"')), 10_000);
    await quiet(h);
    expect(dispatched(h)).toEqual([]);

    const tag = gerrit.addTag("openstack/nova", "v30.0.0", { annotated: true });
    gerrit.addTag("openstack/nova", "30.0.0-not-v"); // the edge's filter is v*
    await waitFor("v30.0.0 dispatched", () => dispatched(h).length >= 1, 10_000);
    await quiet(h);

    // Annotated: the commit it names, not the tag object.
    expect(tag.annotated).toBeDefined();
    expect(dispatched(h)).toEqual([`v30.0.0@${tag.commit}`]);
    expect(h.github.calls("actions/create-workflow-dispatch")[0]!.body.inputs).toMatchObject({ openci_upstream: "nova", openci_upstream_repo: "openstack/nova" });
    // Only reads reach Gerrit: the tags as the map's account (/a/), and whether the project is public (anonymously: what anyone may see).
    expect(new Set(gerrit.requests.map((r) => `${r.method} ${r.path} ${r.user ?? "anonymous"}`))).toEqual(new Set([
      "GET /r/a/projects/openstack%2Fnova/tags/ openci", "GET /r/a/projects/openstack%2Fnova/tags/v30.0.0 openci", "GET /r/projects/openstack%2Fnova anonymous",
    ]));

    const release = await releaseWhen(h, "nova", "v30.0.0", {});
    expect(release.release).toMatchObject({ project: "nova", forge: "gerrit", repo: "openstack/nova", tag: "v30.0.0", source: "watch" });
  }, 60_000);

  it("streamed: a tag announced by stream-events is dispatched at once, long before the next poll, and once only", async () => {
    const ssh = await FakeGerritSsh.start({ user: "openci", publicKey: keys.public, gerrit });
    try {
      gerrit.addTag("openstack/nova", "v29.0.0");
      const h = await startHarness({ map: mapFor(gerrit, ssh), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: SLOW });
      await h.launch({ OPENCI_ROLE: "worker" }); // a second process: it must not open a second stream
      await waitFor("one process following the stream", () => ssh.commands.length >= 1, 15_000);

      const tag = gerrit.addTag("openstack/nova", "v31.0.0", { annotated: true });
      await waitFor("v31.0.0 dispatched", () => dispatched(h).length >= 1, 10_000);
      await h.idle({ ignore: [WATCHER] });

      expect(dispatched(h)).toEqual([`v31.0.0@${tag.commit}`]);
      expect(h.logs.filter((l) => l.includes("gerrit stream-events: new tag enqueued"))).toHaveLength(1);
      // Two worker processes, one stream: the lease keeps the second from connecting.
      expect(ssh.commands).toHaveLength(1);
      expect(ssh.commands[0]!.command).toContain("gerrit stream-events");
      // The tag came from the stream (the first poll is up to an hour away).
      const release = await releaseWhen(h, "nova", "v31.0.0", {});
      expect(release.release).toMatchObject({ project: "nova", forge: "gerrit", tag: "v31.0.0", sha: tag.commit, source: "stream" });
      expect(ssh.problems).toEqual([]);
    } finally {
      await ssh.stop();
    }
  }, 60_000);
  it("streamed with a pinned host key that is not the server's: refused, said once, and nothing is streamed (the poll still reads the tags)", async () => {
    const ssh = await FakeGerritSsh.start({ user: "openci", publicKey: keys.public, gerrit });
    try {
      const other = sshKeyPair().public.trim();
      const h = await startHarness({ map: mapFor(gerrit, ssh, other), repos: { [EXAMPLE_DOWNSTREAM]: octoRepo() }, env: FAST });
      await waitFor("the refusal", () => h.logs.some((l) => l.includes("is not the one the map pins")), 10_000);
      await waitFor("the baseline by polling", () => h.logs.some((l) => l.includes("watch: baseline taken")), 10_000);

      expect(ssh.commands).toEqual([]);
      expect(h.logs.filter((l) => l.includes("is not the one the map pins"))).toHaveLength(1);
    } finally {
      await ssh.stop();
    }
  }, 60_000);
});
