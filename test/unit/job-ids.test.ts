import { describe, expect, it } from "@jest/globals";
import { checkKey, deliveryJobId, reportJobId, triggerJobId } from "../../src/queue/job-ids.js";

const t = { upstreamId: "acme/lib", tag: "v1.0.0", sha: "a".repeat(40), downstreamId: "acme/app" };

describe("job ids", () => {
  it("are the same for the same work and differ when any part differs", () => {
    const variants = [
      { ...t, upstreamId: "acme/lib2" }, { ...t, tag: "v1.0.1" }, { ...t, sha: "b".repeat(40) }, { ...t, downstreamId: "acme/app2" },
    ].map(triggerJobId);

    expect(triggerJobId({ ...t })).toBe(triggerJobId(t));
    expect(new Set([triggerJobId(t), ...variants]).size).toBe(5);
  });

  it("do not run parts together ambiguously", () => {
    expect(triggerJobId({ ...t, upstreamId: "a", tag: "bc" })).not.toBe(triggerJobId({ ...t, upstreamId: "ab", tag: "c" }));
  });

  it.each([
    ["trigger", triggerJobId(t)],
    ["delivery", deliveryJobId("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958")],
    ["report", reportJobId(checkKey({ upstream: { forge: "github", repo: "a/b" }, sha: t.sha, name: "openci: x" }), 12)],
  ])("a %s id is valid for BullMQ: no ':' and not all digits", (_kind, id) => {
    expect(id).not.toContain(":");
    expect(id).not.toMatch(/^\d+$/);
  });

  it("treats repository names case-insensitively for check keys, as GitHub does", () => {
    expect(checkKey({ upstream: { forge: "github", repo: "Acme/Lib" }, sha: t.sha, name: "n" })).toBe(checkKey({ upstream: { forge: "github", repo: "acme/lib" }, sha: t.sha, name: "n" }));
    expect(checkKey({ upstream: { forge: "gitlab", repo: "acme/lib" }, sha: t.sha, name: "n" })).not.toBe(checkKey({ upstream: { forge: "github", repo: "acme/lib" }, sha: t.sha, name: "n" }));
  });
});
