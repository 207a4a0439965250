import { afterEach, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { GerritReviews } from "../../src/forge/gerrit-review.js";
import { isRecheck, parseStreamLine, reconnectDelay, STREAM_COMMAND, watchGerritStream, type GerritEvent, type GerritStream } from "../../src/forge/gerrit-stream.js";
import { FakeGerrit } from "../fakes/gerrit/fake-gerrit.js";
import { FakeGerritSsh } from "../fakes/gerrit/fake-gerrit-ssh.js";
import { ZERO_SHA } from "../fakes/gerrit/events.js";
import { waitFor } from "../helpers/wait-for.js";
import { sshKeyPair } from "../helpers/keys.js";

/**
 * The stream-events client: each documented event read into the relay's terms (tags, patch sets,
 * rechecks; the rest ignored), and the watcher against a real SSH server speaking stream-events
 * (test/fakes/gerrit/fake-gerrit-ssh.ts): events in order, reconnecting after a drop, a refused key
 * or a missing capability said clearly and once.
 */

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("parseStreamLine", () => {
  const line = (o: unknown) => parseStreamLine(JSON.stringify(o));
  const refUpdated = (refName: string, oldRev: string, newRev: string) => line({
    type: "ref-updated", submitter: { name: "Release Bot", username: "release" }, eventCreatedOn: 1765000000,
    refUpdate: { oldRev, newRev, refName, project: "openstack/nova" },
  });
  const change = { project: "openstack/nova", branch: "master", id: `I${"c".repeat(40)}`, number: 987654, url: "https://review.opendev.org/c/openstack/nova/+/987654", subject: "Fix", status: "NEW" };
  const patchSet = { number: 3, revision: A, ref: "refs/changes/54/987654/3", kind: "REWORK", uploader: { username: "jane" } };

  it("reads a tag created or moved on refs/tags/*, and ignores deletions, branches, an older server's bare branch names and change refs", () => {
    expect(refUpdated("refs/tags/30.0.0", ZERO_SHA, A)).toEqual({
      kind: "event", event: { type: "tag", project: "openstack/nova", tag: "30.0.0", sha: A, previous: undefined, submitter: "release", createdOn: 1765000000 },
    });
    expect(refUpdated("refs/tags/stable/2026.1-eol", A, B)).toMatchObject({ kind: "event", event: { tag: "stable/2026.1-eol", sha: B, previous: A } });
    expect(refUpdated("refs/tags/30.0.0", A, ZERO_SHA)).toEqual({ kind: "ignored", type: "ref-updated", why: "a tag deleted" });
    expect(refUpdated("refs/heads/master", A, B)).toEqual({ kind: "ignored", type: "ref-updated", why: "not a tag" });
    expect(refUpdated("master", A, B)).toEqual({ kind: "ignored", type: "ref-updated", why: "an older server's branch name" });
    expect(refUpdated("tags/30.0.0", A, B)).toMatchObject({ kind: "ignored" });
    expect(refUpdated("refs/changes/54/987654/3", ZERO_SHA, B)).toMatchObject({ kind: "ignored", why: "not a tag" });
  });

  it("reads patchset-created, with numbers as numbers or, from servers before 2.14, as strings", () => {
    const expected = {
      kind: "event",
      event: {
        type: "patchset", project: "openstack/nova", branch: "master", change: 987654, changeId: change.id, url: change.url, patchSet: 3,
        ref: "refs/changes/54/987654/3", revision: A, kind: "REWORK", uploader: "jane", createdOn: 1765000001,
      },
    };
    expect(line({ type: "patchset-created", change, patchSet, uploader: { username: "jane" }, eventCreatedOn: 1765000001 })).toEqual(expected);
    expect(line({ type: "patchset-created", change: { ...change, number: "987654" }, patchSet: { ...patchSet, number: "3" }, uploader: { username: "jane" }, eventCreatedOn: "1765000001" })).toEqual(expected);
  });

  it("reads a comment-added whose message less the 'Patch Set N:' line is recheck as a recheck, and ignores every other comment", () => {
    const comment = (text: string) => line({ type: "comment-added", change, patchSet, author: { name: "Jane", email: "jane@example.org" }, approvals: [], comment: text });

    expect(comment("Patch Set 3:\n\nrecheck")).toEqual({
      kind: "event",
      event: { type: "recheck", project: "openstack/nova", branch: "master", change: 987654, changeId: change.id, url: change.url, patchSet: 3, ref: "refs/changes/54/987654/3", revision: A, author: "jane@example.org", createdOn: undefined },
    });
    expect(["Patch Set 3: Code-Review+1\n\n  ReCheck \n", "recheck", "Patch Set 12:\r\n\r\nRECHECK"].map(isRecheck)).toEqual([true, true, true]);
    expect(["Patch Set 3:\n\nrecheck please", "Patch Set 3:\n\nrecheck\nthe flaky job", "Patch Set 3: recheck", "please recheck", "Patch Set 3: Verified-1\n\nBuild failed"].map(isRecheck))
      .toEqual([false, false, false, false, false]);
    expect(comment("Patch Set 3: Verified-1\n\nBuild failed")).toEqual({ kind: "ignored", type: "comment-added", why: "not a recheck" });
  });

  it("ignores other event types, and says what is wrong with a line that is not JSON or not shaped as documented", () => {
    expect(line({ type: "change-merged", change, patchSet })).toEqual({ kind: "ignored", type: "change-merged", why: "not an event the relay uses" });
    expect(line({ type: "dropped-output" })).toMatchObject({ kind: "ignored", type: "dropped-output" });
    expect(parseStreamLine("{\"type\":\"ref-upd")).toEqual({ kind: "bad", why: "not JSON" });
    expect(line(["ref-updated"])).toEqual({ kind: "bad", why: "no event type" });
    expect(line({ type: "ref-updated", submitter: {} })).toEqual({ kind: "bad", why: "a ref-updated event without refUpdate" });
    expect(line({ type: "patchset-created", change, patchSet: { ...patchSet, revision: 7 } })).toEqual({ kind: "bad", why: "a patchset-created event without patchSet.revision" });
  });
});

describe("reconnectDelay", () => {
  it("waits 1 s after the first failure, doubling to at most 60 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => reconnectDelay(n))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect([1, 2, 3].map((n) => reconnectDelay(n, { initialMs: 50, maxMs: 120 }))).toEqual([50, 100, 120]);
  });
});

/** A pino logger whose lines the test reads. */
function memoryLog() {
  const lines: { level: number; msg: string; hint?: string; [k: string]: unknown }[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines, said: (re: RegExp) => lines.filter((l) => re.test(l.msg)) };
}

describe("watchGerritStream against an SSH server speaking stream-events", () => {
  const account = sshKeyPair();
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup(o: { streamEvents?: boolean } = {}) {
    const gerrit = await FakeGerrit.start({ user: "openci-ci", password: "pw" });
    const ssh = await FakeGerritSsh.start({ user: "openci-ci", publicKey: account.public, gerrit, ...o });
    cleanup.push(async () => {
      await ssh.stop();
      await gerrit.stop();
    });
    gerrit.addProject("openstack/nova");
    return { gerrit, ssh };
  }

  function watch(ssh: FakeGerritSsh, o: { privateKey?: string; hostKey?: string; upAfterMs?: number } = {}) {
    const events: GerritEvent[] = [];
    const { log, lines, said } = memoryLog();
    const stream: GerritStream = watchGerritStream({
      host: ssh.host, port: ssh.port, user: "openci-ci", privateKey: o.privateKey ?? account.private, hostKey: o.hostKey,
      log, onEvent: (e) => void events.push(e), backoff: { initialMs: 50, maxMs: 200 }, upAfterMs: o.upAfterMs,
    });
    cleanup.push(() => stream.stop());
    return { stream, events, lines, said };
  }

  it("hands over tags, patch sets and rechecks in order, and nothing for other comments, deletions or its own review messages", async () => {
    const { gerrit, ssh } = await setup();
    const { events, said } = watch(ssh, { hostKey: ssh.hostPublicKey });
    await waitFor("the stream to be open", () => ssh.streams === 1);

    const tag = gerrit.addTag("openstack/nova", "30.0.0", { annotated: true });
    const change = gerrit.addChange("openstack/nova");
    gerrit.comment(change.number, "Looks good to me");
    gerrit.deleteTag("openstack/nova", "30.0.0");
    Object.assign(gerrit.grants, { Verified: [-1, 1] });
    await new GerritReviews({ url: gerrit.url, auth: { user: "openci-ci", password: "pw" } }).review(`openstack/nova~${change.number}`, "1", { message: "* openci: kata https://ci/1 : FAILURE", failed: true, vote: -1 });
    gerrit.comment(change.number, "recheck");
    const ps2 = gerrit.addPatchSet(change.number, { kind: "TRIVIAL_REBASE" });
    const last = gerrit.addTag("openstack/nova", "30.0.1");
    await waitFor("the last tag", () => events.some((e) => e.type === "tag" && e.tag === "30.0.1"));

    expect(ssh.commands).toEqual([{ user: "openci-ci", command: STREAM_COMMAND }]);
    expect(events).toEqual([
      { type: "tag", project: "openstack/nova", tag: "30.0.0", sha: tag.annotated!.tagObject, previous: undefined, submitter: "openci-ci", createdOn: expect.any(Number) },
      expect.objectContaining({ type: "patchset", project: "openstack/nova", change: change.number, patchSet: 1, ref: change.patchSets[0]!.ref, revision: change.patchSets[0]!.revision, kind: "REWORK", uploader: "jane" }),
      expect.objectContaining({ type: "recheck", change: change.number, patchSet: 1, revision: change.patchSets[0]!.revision, author: "reviewer" }),
      expect.objectContaining({ type: "patchset", change: change.number, patchSet: 2, ref: `refs/changes/${String(change.number % 100).padStart(2, "0")}/${change.number}/2`, revision: ps2.revision, kind: "TRIVIAL_REBASE" }),
      expect.objectContaining({ type: "tag", tag: "30.0.1", sha: last.commit }),
    ]);
    expect(said(/connected to Gerrit stream-events as openci-ci@127\.0\.0\.1/)).toHaveLength(1);
    expect(ssh.problems).toEqual([]);
    expect(gerrit.problems).toEqual([]);
  });

  it("reconnects after the connection is dropped, logging the disconnect and the reconnect once each, and later events arrive", async () => {
    const { gerrit, ssh } = await setup();
    const { events, said } = watch(ssh);
    await waitFor("the stream to be open", () => ssh.streams === 1);
    gerrit.addTag("openstack/nova", "1.0.0");
    await waitFor("the first tag", () => events.length === 1);

    ssh.dropAll();
    await waitFor("the disconnect to be noticed", () => said(/^disconnected/).length === 1);
    await waitFor("a new stream", () => ssh.streams === 1 && ssh.commands.length === 2);
    gerrit.addTag("openstack/nova", "1.0.1");
    await waitFor("the tag after the reconnect", () => events.length === 2);
    await waitFor("the reconnect to be logged", () => said(/^reconnected/).length === 1);

    expect(events.map((e) => e.type === "tag" && e.tag)).toEqual(["1.0.0", "1.0.1"]);
    expect(said(/^connected/)).toHaveLength(1);
    expect(said(/^disconnected/)).toHaveLength(1);
    expect(said(/^disconnected/)[0]!.level).toBe(40);
    expect(ssh.problems).toEqual([]);
  });

  it("skips a line that is not JSON with a warning, and goes on with the next event", async () => {
    const { gerrit, ssh } = await setup();
    const { events, said } = watch(ssh);
    await waitFor("the stream to be open", () => ssh.streams === 1);

    ssh.emit("fatal: this is not an event");
    ssh.emit({ type: "dropped-output" });
    gerrit.addTag("openstack/nova", "2.0.0");
    await waitFor("the tag", () => events.length === 1);

    expect(events).toMatchObject([{ type: "tag", tag: "2.0.0" }]);
    expect(said(/cannot read/)).toMatchObject([{ level: 40, why: "not JSON", line: "fatal: this is not an event" }]);
    expect(said(/dropped stream events/)).toHaveLength(1);
  });

  it("says once, as a config error with the fix, that the server refused the key, and keeps trying with backoff", async () => {
    const { ssh } = await setup();
    const stranger = sshKeyPair();
    const { lines, said } = watch(ssh, { privateKey: stranger.private });

    await waitFor("three refused attempts", () => ssh.auth.filter((a) => !a.accepted).length >= 3);

    expect(ssh.auth.every((a) => a.user === "openci-ci" && !a.accepted)).toBe(true);
    expect(ssh.streams).toBe(0);
    const refused = said(/refused the key of openci-ci/);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 50, err: { kind: "config" } });
    expect(refused[0]!.hint).toMatch(/ssh user_env \/ key_env.*Gerrit SSH keys/);
    expect(said(/^connected/)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain("PRIVATE KEY");
  });

  it("says that the account lacks the Stream Events capability when Gerrit refuses the command", async () => {
    const { ssh } = await setup({ streamEvents: false });
    // counted as connected only by an event or after 10 s, so a slow machine cannot make it "connected" first
    const { said } = watch(ssh, { upAfterMs: 10_000 });

    await waitFor("the refusal to be logged", () => said(/ended with status 3/).length === 1);
    await waitFor("another attempt", () => ssh.commands.length >= 2);

    const refusal = said(/ended with status 3/)[0]!;
    expect(refusal.msg).toContain("openci-ci does not have \"streamEvents\" capability");
    expect(refusal.hint).toMatch(/Stream Events capability/);
    expect(said(/ended with status 3/)).toHaveLength(1);
    expect(said(/connected/)).toEqual([]);
  });

  it("refuses a server whose host key is not the pinned one", async () => {
    const { ssh } = await setup();
    const other = sshKeyPair();
    const { said } = watch(ssh, { hostKey: other.public });

    await waitFor("the refusal to be logged", () => said(/SSH host key/).length === 1);

    expect(said(/SSH host key/)[0]).toMatchObject({ level: 50, err: { kind: "config" } });
    expect(ssh.auth).toEqual([]);
    expect(ssh.streams).toBe(0);
  });

  it("stops: closes the connection, never reconnects, hands over nothing more", async () => {
    const { gerrit, ssh } = await setup();
    const { stream, events } = watch(ssh);
    await waitFor("the stream to be open", () => ssh.streams === 1);

    await stream.stop();
    await waitFor("the connection to close", () => ssh.open === 0);
    gerrit.addTag("openstack/nova", "3.0.0");
    await new Promise((r) => setTimeout(r, 300)); // six backoff periods: a reconnect would have happened

    expect(ssh.commands).toHaveLength(1);
    expect(ssh.open).toBe(0);
    expect(events).toEqual([]);
  });
});
