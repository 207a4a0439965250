import { describe, expect, it } from "@jest/globals";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarReader } from "@ipld/car";
import { main } from "../../src/cli/main.js";
import { cidOf, decode, encode } from "../../src/history/cid.js";
import { getJson, hellosDependantsMap, hellosDependantsRepos, releaseWhen, releaseWithAFailure } from "../helpers/history.js";
import { COMMIT, UPSTREAM, useHarness } from "../helpers/scenario.js";

const MAP = hellosDependantsMap();
const repos = hellosDependantsRepos;
const startHarness = useHarness();

describe("the history of a release, through the query API", () => {
  it("answers what the release caused and where the artifacts are, each answer with its CID", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });

    const { release, octoRun, acmeRun } = await releaseWithAFailure(h);
    const octo = release.downstreams.find((d: any) => d.project === "octo");
    const acme = release.downstreams.find((d: any) => d.project === "acme/app");

    expect(release.release).toMatchObject({
      kind: "release", project: "hello", repo: UPSTREAM, tag: "simple-tag", sha: COMMIT, source: "create",
      artifacts: ["pkg:github/codertocat/hello-world@simple-tag"],
    });
    expect(octo).toMatchObject({
      status: "failed", conclusion: "failure", url: `https://github.com/octo-org/octo-repo/actions/runs/${octoRun}`, failedJobs: ["unit tests"], attempt: 0,
      artifacts: [
                // the web root is GHE_HOST's, here the fake GitHub's
        { name: "junit-report", size: 2048, url: `http://${h.github.host}/octo-org/octo-repo/actions/runs/${octoRun}/artifacts/${octoRun * 10}` },
        { name: "logs", size: 512, url: `http://${h.github.host}/octo-org/octo-repo/actions/runs/${octoRun}/artifacts/${octoRun * 10 + 1}` },
      ],
    });
    expect(acme).toMatchObject({ status: "passed", conclusion: "success", url: `https://github.com/acme/app/actions/runs/${acmeRun}`, failedJobs: [] });
    const kinds = await Promise.all(octo.records.map(async (cid: string) => (await getJson(h, `/api/v1/records/${cid}`)).body.record.kind));
    expect(kinds).toEqual(["trigger", "run", "test-output", "test-output"]);
  });

  it("serves each record so that recomputing its CID gives the CID, in JSON and as dag-json bytes", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const { release } = await releaseWithAFailure(h);
    const cids: string[] = [release.release.cid, ...release.downstreams.flatMap((d: any) => d.records)];

    for (const cid of cids) {
      const raw = await fetch(`${h.url}/api/v1/records/${cid}`, { headers: { accept: "application/vnd.ipld.dag-json" } });
      const bytes = new Uint8Array(await raw.arrayBuffer());
      const json = await getJson(h, `/api/v1/records/${cid}`);

      expect(raw.headers.get("content-type")).toBe("application/vnd.ipld.dag-json");
      expect((await cidOf(bytes)).toString()).toBe(cid);
      expect(json.body.cid).toBe(cid);
      expect((await cidOf(encode(decode(new TextEncoder().encode(JSON.stringify(json.body.record)))))).toString()).toBe(cid);
    }
    const run = (await getJson(h, `/api/v1/records/${release.downstreams[1].cid}`)).body.record;
    expect(run.trigger).toEqual({ "/": release.downstreams[1].records[0] });
    expect(run.release).toEqual({ "/": release.release.cid });
  });

  it("answers by commit, pages a project's history, and says what is unknown or malformed", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const { release } = await releaseWithAFailure(h);
    const all = [release.release.cid, ...release.downstreams.flatMap((d: any) => d.records)];

    const commit = await getJson(h, `/api/v1/commits/hello/${COMMIT}`);
    const pages: string[][] = [];
    for (let next: string | null = "", guard = 0; next !== null && guard < 20; guard++) {
      const { body } = await getJson(h, `/api/v1/projects/hello/history?limit=3${next ? `&before=${next}` : ""}`);
      pages.push(body.items.map((i: any) => i.cid));
      next = body.next;
    }
    const octoHistory = await getJson(h, `/api/v1/projects/octo/history`);

    expect(commit.status).toBe(200);
    expect(commit.body).toMatchObject({ project: "hello", sha: COMMIT, refs: ["simple-tag"] });
    expect(commit.body.downstreams.map((d: any) => [d.project, d.status])).toEqual([["acme/app", "passed"], ["octo", "failed"]]);
    expect(pages.every((p) => p.length <= 3)).toBe(true);
    expect(pages.flat().sort()).toEqual([...all].sort());
    expect(octoHistory.body.items.map((i: any) => i.cid).sort()).toEqual([...release.downstreams.find((d: any) => d.project === "octo").records].sort());
    expect(octoHistory.body.items.every((i: any) => i.record.downstream === "octo")).toBe(true);

    const unknownCid = (await cidOf(encode({ nothing: "here" }))).toString();
    expect((await getJson(h, "/api/v1/releases/hello/v9.9.9")).status).toBe(404);
    expect((await getJson(h, "/api/v1/releases/nobody/v1")).body.error).toContain("no project 'nobody'");
    expect((await getJson(h, `/api/v1/records/${unknownCid}`)).status).toBe(404);
    expect((await getJson(h, `/api/v1/commits/hello/${"0".repeat(40)}`)).status).toBe(404);
    expect((await getJson(h, "/api/v1/records/not-a-cid")).status).toBe(400);
    expect((await getJson(h, "/api/v1/commits/hello/abc")).status).toBe(400);
    expect((await getJson(h, "/api/v1/projects/hello/history?limit=0")).status).toBe(400);
    expect((await getJson(h, "/api/v1/projects/hello/history?before=x")).status).toBe(400);
    expect((await getJson(h, "/api/v1/releases/hello/simple-tag/extra")).status).toBe(400);
  });

  it("adds nothing when the tag is delivered again, as create, push and release", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await h.send("create.tag");
    const first = await releaseWhen(h, "hello", "simple-tag", { octo: "queued", "acme/app": "queued" });

    await h.send("create.tag");
    await h.send("push.tag", (p) => { p.after = COMMIT; });
    await h.send("release.published", (p) => { p.release.tag_name = "simple-tag"; });
    await h.idle();
    const again = await getJson(h, "/api/v1/releases/hello/simple-tag");

    expect(again.body.releases).toHaveLength(1);
    expect(again.body.downstreams.map((d: any) => d.records)).toEqual(first.downstreams.map((d: any) => d.records));
  });
});

describe("openci-relay export and verify", () => {
  it("exports a CAR file that CAR readers import, verifies it, and finds a changed record", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    const { release } = await releaseWithAFailure(h);
    const dir = mkdtempSync(join(tmpdir(), "openci-car-"));
    const file = join(dir, "history.car");
    const out: string[] = [];
    const err: string[] = [];
    const io = [(s: string) => out.push(s), (s: string) => err.push(s)] as const;

    const exported = await main(["export", "--output", file, "--url", h.url], {}, ...io);
    const reader = await CarReader.fromBytes(readFileSync(file));
    const [root] = await reader.getRoots();
    const manifest = decode<any>((await reader.get(root!))!.bytes);
    const verified = await main(["verify", file], {}, ...io);

    const all = [release.release.cid, ...release.downstreams.flatMap((d: any) => d.records)];
    expect(exported).toBe(0);
    expect(err.join("")).toMatch(new RegExp(`exported ${all.length} records .* root ${root!.toString()}`));
    expect(manifest).toMatchObject({ kind: "openci-export", records: all.length });
    for (const cid of all) {
      const block = await reader.get((await import("multiformats/cid")).CID.parse(cid));
      expect(block).toBeDefined();
      expect((await cidOf(block!.bytes)).toString()).toBe(cid);
    }
    expect(verified).toBe(0);
    expect(out.join("")).toContain(`ok: ${all.length + 2} blocks, 0 changed, 0 missing`);

    const tampered = join(dir, "tampered.car");
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('"conclusion":"failure"'));
    expect(at).toBeGreaterThan(0);
    bytes.write('"conclusion":"success"', at);
    writeFileSync(tampered, bytes);
    err.length = 0;
    out.length = 0;

    expect(await main(["verify", tampered], {}, ...io)).toBe(1);
    expect(err.join("")).toContain("content does not match its CID (the block was changed)");
    expect(out.join("")).toContain("FAILED");
  });

  it("exports only what happened since a date, and refuses a date it cannot read", async () => {
    const h = await startHarness({ map: MAP, repos: repos() });
    await releaseWithAFailure(h);
    const file = join(mkdtempSync(join(tmpdir(), "openci-car-")), "none.car");
    const err: string[] = [];

    const future = await main(["export", "--since", "2999-01-01", "--output", file, "--url", h.url], {}, () => {}, (s) => err.push(s));
    const bad = await main(["export", "--since", "last tuesday", "--url", h.url], {}, () => {}, (s) => err.push(s));
    const api = await getJson(h, "/api/v1/history.car?since=yesterday-ish");

    expect(future).toBe(0);
    expect(err[0]).toContain("exported 0 records");
    expect(await main(["verify", file], {}, () => {}, () => {})).toBe(0);
    expect(bad).toBe(2);
    expect(err[1]).toContain("--since must be a date");
    expect(api.status).toBe(400);
  });
});
