/**
 * upsertMarkedComment over places held in memory (a place is the forge's side: its comments and
 * who wrote them). Written to kill mutants of src/forge/comment-places.ts that the end-to-end
 * comment tests leave alive (`npm run test:mutation -- comment-places`, TESTING.md).
 */
import { describe, expect, it } from "@jest/globals";
import { upsertMarkedComment, type CommentPlace } from "../../src/forge/comment-places.js";
import { ForgeError } from "../../src/forge/errors.js";

const MARKER = "<!-- openci:failure -->";

interface Held { id: string; body: string; own: boolean }

/** A place with its comments, every call written down; `refuse` makes update answer with an HTTP status. */
function place(key: string, comments: Held[] = [], o: { refuse?: number; listFails?: number } = {}) {
  const calls: string[] = [];
  let next = 100;
  const p: CommentPlace & { comments: Held[]; calls: string[] } = {
    key,
    comments,
    calls,
    list: async () => {
      calls.push("list");
      if (o.listFails) throw Object.assign(new Error("list failed"), { status: o.listFails });
      return comments.map((c) => ({ ...c }));
    },
    create: async (body) => {
      const id = String(next++);
      calls.push(`create ${id}`);
      comments.push({ id, body, own: true });
      return id;
    },
    update: async (id, body) => {
      calls.push(`update ${id}`);
      if (o.refuse) throw Object.assign(new Error(`HTTP ${o.refuse}`), { status: o.refuse });
      const c = comments.find((x) => x.id === id);
      if (!c) throw Object.assign(new Error("Not Found"), { status: 404 });
      c.body = body;
    },
  };
  return p;
}

const body = (text: string) => `${MARKER}\n${text}`;

describe("upsertMarkedComment", () => {
  it("creates the comment where there is none, and returns its id per place", async () => {
    const a = place("pr-1");
    const b = place("pr-2", [{ id: "7", body: "an unrelated comment", own: true }]);
    const ids = await upsertMarkedComment([a, b], MARKER, body("1 failure"), {}, "o/r");
    expect(ids).toEqual({ "pr-1": "100", "pr-2": "100" });
    expect(a.calls).toEqual(["list", "create 100"]);
    expect(b.calls).toEqual(["list", "create 100"]);
    expect(b.comments.map((c) => c.body)).toEqual(["an unrelated comment", body("1 failure")]);
  });

  it("finds its own marked comment again when the id was lost, and leaves it alone when the text is the same", async () => {
    const a = place("commit", [{ id: "5", body: body("1 failure"), own: true }]);
    expect(await upsertMarkedComment([a], MARKER, body("1 failure"), {}, "o/r")).toEqual({ commit: "5" });
    expect(a.calls).toEqual(["list"]);
  });

  it("edits its own marked comment in place when the text changed", async () => {
    const a = place("commit", [
      { id: "4", body: "no marker here", own: true },
      { id: "5", body: body("1 failure"), own: true },
    ]);
    expect(await upsertMarkedComment([a], MARKER, body("2 failures"), {}, "o/r")).toEqual({ commit: "5" });
    expect(a.calls).toEqual(["list", "update 5"]);
    expect(a.comments.find((c) => c.id === "5")?.body).toBe(body("2 failures"));
    expect(a.comments.find((c) => c.id === "4")?.body).toBe("no marker here");
  });

  it("never takes over a stranger's comment that carries the marker", async () => {
    const a = place("pr-3", [{ id: "9", body: body("planted"), own: false }]);
    expect(await upsertMarkedComment([a], MARKER, body("1 failure"), {}, "o/r")).toEqual({ "pr-3": "100" });
    expect(a.calls).toEqual(["list", "create 100"]);
    expect(a.comments.find((c) => c.id === "9")?.body).toBe(body("planted"));
  });

  it("with a known id, edits that comment without listing", async () => {
    const a = place("commit", [{ id: "5", body: body("old"), own: true }]);
    expect(await upsertMarkedComment([a], MARKER, body("new"), { commit: "5" }, "o/r")).toEqual({ commit: "5" });
    expect(a.calls).toEqual(["update 5"]);
    expect(a.comments[0]!.body).toBe(body("new"));
  });

  it("writes a new comment when the known one was deleted (404) or is not editable (403)", async () => {
    const gone = place("commit", []);
    expect(await upsertMarkedComment([gone], MARKER, body("x"), { commit: "5" }, "o/r")).toEqual({ commit: "100" });
    expect(gone.calls).toEqual(["update 5", "create 100"]);
    const locked = place("pr-1", [{ id: "5", body: body("old"), own: true }], { refuse: 403 });
    expect(await upsertMarkedComment([locked], MARKER, body("x"), { "pr-1": "5" }, "o/r")).toEqual({ "pr-1": "100" });
    expect(locked.calls).toEqual(["update 5", "create 100"]);
  });

  it("passes any other failure on, classified and saying where", async () => {
    const broken = place("pr-8", [{ id: "5", body: body("old"), own: true }], { refuse: 502 });
    const error = await upsertMarkedComment([broken], MARKER, body("x"), { "pr-8": "5" }, "o/r").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForgeError);
    expect((error as ForgeError).kind).toBe("transient");
    expect((error as ForgeError).status).toBe(502);
    expect((error as ForgeError).message).toMatch(/^writing the OpenCI comment on o\/r \(pr-8\): /);
    expect(broken.calls).toEqual(["update 5"]);

    const unlistable = place("commit", [], { listFails: 500 });
    const listError = await upsertMarkedComment([unlistable], MARKER, body("x"), {}, "a/b").catch((e: unknown) => e);
    expect((listError as ForgeError).message).toMatch(/^writing the OpenCI comment on a\/b \(commit\): 500/);
  });

  it("a failure on one place stops before the next", async () => {
    const a = place("pr-1", [], { listFails: 422 });
    const b = place("pr-2");
    await expect(upsertMarkedComment([a, b], MARKER, body("x"), {}, "o/r")).rejects.toMatchObject({ kind: "config", status: 422 });
    expect(b.calls).toEqual([]);
  });
});
