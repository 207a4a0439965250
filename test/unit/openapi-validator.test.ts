import { describe, expect, it } from "@jest/globals";
import { sharedValidator } from "../fakes/github/fake-github.js";

/** The fake GitHub is only as strict as this validator: prove it rejects what GitHub would. */
describe("OpenApiValidator", () => {
  const v = sharedValidator();
  const q = (s = "") => new URLSearchParams(s);

  it("accepts a valid workflow dispatch and names its operation", () => {
    const r = v.validate("POST", "/repos/acme/app/actions/workflows/ci.yml/dispatches", q(), { ref: "main", inputs: { a: "b" } });

    expect(r.problems).toEqual([]);
    expect(r.match).toMatchObject({ operationId: "actions/create-workflow-dispatch", params: { owner: "acme", repo: "app", workflow_id: "ci.yml" } });
  });

  it.each([
    ["an unknown route", "POST", "/repos/acme/app/actions/workflows/ci.yml/dispatch", {}, /not a route/],
    ["a body missing a required field", "POST", "/repos/acme/app/actions/workflows/ci.yml/dispatches", { inputs: {} }, /must have required property 'ref'/],
    ["a wrong type in the body", "POST", "/repos/acme/app/check-runs", { name: "x", head_sha: 42 }, /head_sha must be string/],
    ["a completed check run without conclusion", "PATCH", "/repos/acme/app/check-runs/12", { status: "completed" }, /conclusion/],
    ["a non-integer path parameter", "PATCH", "/repos/acme/app/check-runs/abc", { status: "queued" }, /check_run_id/],
    ["a key the description does not list", "POST", "/repos/acme/app/check-runs", { name: "x", head_sha: "a", detials_url: "https://x" }, /'detials_url' is not a property the description lists/],
    ["a key no branch of anyOf lists", "PATCH", "/repos/acme/app/check-runs/12", { status: "queued", stauts: "x" }, /'stauts' is not a property the description lists/],
    ["too many inputs", "POST", "/repos/a/b/actions/workflows/x/dispatches", { ref: "m", inputs: Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`k${i}`, "v"])) }, /more than 25/],
  ])("rejects %s", (_what, method, path, body, problem) => {
    const r = v.validate(method, path, q(), body);

    expect(r.problems.join("\n")).toMatch(problem);
  });

  it("rejects query parameters the operation does not declare, and accepts declared ones", () => {
    const bad = v.validate("GET", "/repos/a/b/commits/abc/check-runs", q("check_name=x&colour=red"), undefined);
    const good = v.validate("GET", "/repos/a/b/commits/abc/check-runs", q("check_name=x&filter=all&app_id=3"), undefined);

    expect(bad.problems).toEqual(["query parameter 'colour' is not in the spec"]);
    expect(good.problems).toEqual([]);
  });

  it("matches an encoded ref as one path parameter", () => {
    const r = v.validate("GET", "/repos/a/b/git/ref/tags%2Fv1.0", q(), undefined);

    expect(r.problems).toEqual([]);
    expect(r.match?.params.ref).toBe("tags/v1.0");
  });
});
