/**
 * The map's two workers in-process against a real Redis: `processMapRefresh` (the metadata
 * repository's files → the live map of every process, or refused with its problems on that commit)
 * and `processDeclaration` (a downstream's own .github/openci.yml or .gitlab/openci.yml → kept with
 * the map's sources, refused, or removed), with the forge's files and verdicts held in memory
 * (test/helpers/memory-forge.ts and FilesForge below). Written to kill the mutants of
 * src/workers/{map-refresh,declaration}.ts (`npm run test:mutation -- workers-map`, TESTING.md) in
 * milliseconds where e2e/map-repo and declarations take seconds a test: each decision (the lock, a
 * version in use or already refused, a problem, a removal), each write (the stored map and
 * declarations, the refused commit, the live map) and each text an operator or a user reads (the
 * verdict on the commit, the log lines).
 */
import { beforeEach, describe, expect, it } from "@jest/globals";
import type { Logger } from "pino";
import { ForgeError } from "../../src/forge/errors.js";
import { Systems, type At } from "../../src/forge/registry.js";
import type { Files, Reporter } from "../../src/forge/roles.js";
import { LiveMap } from "../../src/map/live-map.js";
import { parseMap } from "../../src/map/load.js";
import type { MapRepoSpec } from "../../src/map/map-repo.js";
import { readSources, readStoredMap, storeDeclaration, storeMap } from "../../src/map/map-store.js";
import type { DeclarationJob, MapRefreshJob } from "../../src/queue/job-data.js";
import { key } from "../../src/queue/names.js";
import type { WorkerDeps } from "../../src/workers/deps.js";
import { processDeclaration } from "../../src/workers/declaration.js";
import { processMapRefresh } from "../../src/workers/map-refresh.js";
import { httpError, MemoryForge } from "../helpers/memory-forge.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { capturedLog, ERROR, INFO, useWorkerQueues, WARN, workerDeps, type LogLine, rejection } from "../helpers/worker-deps.js";

const redis = useTestRedisClient();
const queues = useWorkerQueues(redis);

/**
 * The keys every relay process (and every version of it, in a rolling upgrade) shares: the lock one
 * refresh at a time holds, and the commit last refused (another process, or this one before a
 * restart, wrote them).
 */
const REFRESH_LOCK = key("map-repo", "refreshing");
const REFUSED_SHA = key("map-repo", "refused");

const META = "meta/maps";
const GOOD = "a".repeat(40);
const BROKEN = "b".repeat(40);
const NEXT = "c".repeat(40);
const PUSHED = "d".repeat(40);
const SPEC: MapRepoSpec = { forge: "github", repo: META, ref: "main", dir: "maps" };

const HEADER = "version: 2\nfoundations: [{ id: f, name: F }]\nprojects:\n";
const CI = "{ workflow: ci.yml, ref: main }";
/** `up` and a dependant: a map without a problem or a warning. */
const UP = "  - { id: up, foundation: f, github: upco/lib }\n";
const DOWN = `  - { id: down, foundation: f, github: upco/down, trigger: ${CI}, depends_on: [{ project: up }] }\n`;
const TWO = `${HEADER}${UP}${DOWN}`;

/**
 * The local map (OPENCI_MAP) the declarations join: `up` tags; `gll` lives on a GitLab instance
 * with a token of its own; `other` depends on `up`.
 */
const LOCAL = `${HEADER}  - { id: up, foundation: f, github: upco/lib }
  - { id: other, foundation: f, github: upco/other, trigger: ${CI}, depends_on: [{ project: up }] }
  - { id: gll, foundation: f, gitlab: { host: gitlab.example.org, project: grp/gll, token_env: GLL_TOKEN }, trigger: { ref: main }, depends_on: [{ project: up }] }
`;
const DECLARES = (upstream = "up") => `trigger: ${CI}\ndepends_on: [{ project: ${upstream} }]\n`;
/** A metadata repository's file listing `lib2`, which the local map does not. */
const LIB2 = "version: 2\nprojects:\n  - { id: lib2, foundation: f, github: upco/lib2 }\n";
const GITLAB_DECLARES = "trigger: { ref: main }\ndepends_on: [{ project: up }]\n";


/**
 * The forge's file side (`Files`): each repository's branch heads (what `readFiles` reads) and the
 * files on default branches (`readFile`); its reporter side is MemoryForge's.
 */
class FilesForge extends MemoryForge implements Files {
  /** `repo@ref` → the head's commit and files */
  heads: Record<string, { sha: string; files: { path: string; text: string }[] }> = {};
  /** `repo/path` → the text on the default branch */
  texts: Record<string, string> = {};
  /** every readFiles and readFile, with its arguments */
  readonly reads: unknown[][] = [];
  /** called inside readFiles, before it answers */
  duringRead: (() => Promise<void>) | undefined;

  private failing(op: string): void {
    const error = this.failures[op]?.shift();
    if (error !== undefined) throw error;
  }

  async readFiles(repo: string, ref: string, dir: string): Promise<{ sha: string; files: { path: string; text: string }[] }> {
    this.reads.push(["readFiles", repo, ref, dir]);
    await this.duringRead?.();
    this.failing("readFiles");
    const head = this.heads[`${repo}@${ref}`];
    if (!head) throw httpError(404);
    return head;
  }

  async readFile(repo: string, path: string, ref?: string): Promise<string | undefined> {
    this.reads.push(["readFile", repo, path, ref]);
    this.failing("readFile");
    return this.texts[`${repo}/${path}`];
  }
}

let forge: FilesForge;
let logs: LogLine[];
let log: Logger;
let live: LiveMap;
/** where each role was asked for: the place the worker named */
let asked: { role: string; at: At }[];

beforeEach(async () => {
  await redis().flushdb();
  forge = new FilesForge();
  ({ log, lines: logs } = capturedLog());
  asked = [];
});

/** The live map as src/relay.ts makes it, from local map text; `options` are the map's (quotas). */
function liveMap(local: string, options: ConstructorParameters<typeof LiveMap>[2] = {}): LiveMap {
  return new LiveMap(parseMap(local), [{ file: "<map>", text: local }], options);
}

/** The workers' dependencies with the live map `live` (none: `live: undefined`) and the metadata repository `mapRepo`. */
function makeDeps(o: { live?: LiveMap | undefined; mapRepo?: MapRepoSpec | undefined } = {}): WorkerDeps {
  const current = "live" in o ? o.live : live;
  const fallback = parseMap(LOCAL);
  const map = () => current?.get() ?? fallback;
  const played = (role: string) => (at: At) => {
    asked.push({ role, at });
    return forge;
  };
  const driver = { files: played("files"), reporter: played("reporter") as (at: At) => Reporter, pollsRuns: false, signsCheckHooks: true };
  const systems = new Systems({ github: driver, gitlab: driver }, map);
  return { ...workerDeps({ redis: redis(), queues: queues(), map, log, systems, visibilityOf: () => "public" }), live: current, mapRepo: "mapRepo" in o ? o.mapRepo : SPEC };
}

const logged = (msg: string | RegExp) => logs.filter((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));
/** A log line without pino's own fields (time, pid, hostname). */
const fields = (line: LogLine) => Object.fromEntries(Object.entries(line).filter(([k]) => !["time", "pid", "hostname"].includes(k)));

describe("processMapRefresh", () => {
  const refresh = (deps: WorkerDeps, reason: MapRefreshJob["reason"] = "push") => processMapRefresh({ reason }, deps, log);
  const head = (sha: string, files: Record<string, string>) => {
    forge.heads[`${META}@main`] = { sha, files: Object.entries(files).map(([path, text]) => ({ path, text })) };
  };

  beforeEach(() => {
    live = liveMap("projects: []\n");
  });

  it("does nothing without a metadata repository, or without a live map to put it in", async () => {
    head(GOOD, { "maps/f.yml": TWO });

    expect(await refresh(makeDeps({ mapRepo: undefined }))).toEqual({ taken: false });
    expect(await refresh(makeDeps({ live: undefined }))).toEqual({ taken: false });
    expect(forge.reads).toEqual([]);
    expect(await readStoredMap(redis())).toBeUndefined();
    expect(await redis().exists(REFRESH_LOCK)).toBe(0);
  });

  it("takes a good version: stored for every process, live here, its verdict on its commit, and says so", async () => {
    head(GOOD, { "maps/f.yml": TWO });

    const result = await refresh(makeDeps());

    expect(result).toEqual({ taken: true, sha: GOOD });
    expect(forge.reads).toEqual([["readFiles", META, "main", "maps"]]);
    expect(asked).toEqual([{ role: "files", at: { forge: "github", repo: META } }, { role: "reporter", at: { forge: "github", repo: META } }]);
    // the files are named after the repository, the commit (short) and their path: problems and warnings say where they are
    expect(await readStoredMap(redis())).toEqual({ sha: GOOD, files: [{ file: `${META}@aaaaaaa:maps/f.yml`, text: TWO }] });
    expect(live.get().project("down")?.id).toBe("down");
    expect(live.version).toBe((await readSources(redis())).version);
    expect(forge.statuses).toEqual([{
      target: { repo: META, sha: GOOD, ref: "main" }, remoteId: undefined, id: expect.any(String),
      report: { name: "openci: map", status: "completed", detailsUrl: undefined, externalId: `map-${GOOD}`, conclusion: "success", title: "Map taken: 2 projects from 1 file", summary: "No problems." },
    }]);
    expect(logged("dependency map: new version taken").map(fields)).toEqual([
      { level: INFO, msg: "dependency map: new version taken", repo: "github:meta/maps@main:maps", sha: GOOD, files: 1, projects: 2, reason: "push" },
    ]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
    expect(await redis().exists(REFRESH_LOCK)).toBe(0);
  });

  it("counts the files it took: 2 files", async () => {
    head(GOOD, { "maps/a.yml": `${HEADER}${UP}`, "maps/b.yml": `version: 2\nprojects:\n${DOWN}` });

    expect(await refresh(makeDeps())).toEqual({ taken: true, sha: GOOD });
    expect(forge.statuses.map((s) => s.report.title)).toEqual(["Map taken: 2 projects from 2 files"]);
    expect((await readStoredMap(redis()))?.files.map((f) => f.file)).toEqual([`${META}@aaaaaaa:maps/a.yml`, `${META}@aaaaaaa:maps/b.yml`]);
  });

  it("reads under a lock every process shares, held for 2 minutes at most, and lets it go", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    let during: [string | null, number] | undefined;
    forge.duringRead = async () => {
      during = [await redis().get(REFRESH_LOCK), await redis().pttl(REFRESH_LOCK)];
    };

    await refresh(makeDeps());

    expect(during?.[0]).toBe(String(process.pid));
    expect(during?.[1]).toBeGreaterThan(110_000);
    expect(during?.[1]).toBeLessThanOrEqual(120_000);
    expect(await redis().exists(REFRESH_LOCK)).toBe(0);
  });

  it("waits while another process reads the maps: a transient failure, retried in 2 s, its lock left alone", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    await redis().set(REFRESH_LOCK, "4242");

    const error = await rejection(refresh(makeDeps()));

    expect(error).toBeInstanceOf(ForgeError);
    expect(error.message).toBe("another process is reading the maps");
    expect([(error as ForgeError).kind, (error as ForgeError).retryAfterMs]).toEqual(["transient", 2000]);
    expect(forge.reads).toEqual([]);
    expect(await redis().get(REFRESH_LOCK)).toBe("4242");
  });

  it("says what it could not read, classified, and lets the lock go", async () => {
    forge.fail("readFiles", httpError(502));

    const error = await rejection(refresh(makeDeps()));

    expect(error).toBeInstanceOf(ForgeError);
    expect([error.message, (error as ForgeError).kind]).toEqual(["reading the maps of github:meta/maps@main:maps: 502 Bad Gateway", "transient"]);
    expect(await redis().exists(REFRESH_LOCK)).toBe(0);
    expect(await readStoredMap(redis())).toBeUndefined();
  });

  it("does not take the version in use again", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    await refresh(makeDeps());
    const version = (await readSources(redis())).version;

    const again = await refresh(makeDeps(), "periodic");

    expect(again).toEqual({ taken: false, sha: GOOD });
    expect(forge.statuses).toHaveLength(1);
    expect(logged("dependency map: new version taken")).toHaveLength(1);
    expect((await readSources(redis())).version).toBe(version);
  });

  it("refuses a broken version: the last good map stays, every problem logged and shown on that commit, and it is not read again", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    await refresh(makeDeps());
    const before = live.get();
    head(BROKEN, { "maps/f.yml": `${TWO}  - { id: down, foundation: nope, github: o/x }\n` });

    const result = await refresh(makeDeps());

    const problems = [
      `${META}@bbbbbbb:maps/f.yml:6:11: projects[2].id: duplicate id 'down' (first used by projects[1])`,
      `${META}@bbbbbbb:maps/f.yml:6:29: projects[2].foundation: unknown foundation 'nope': add it to 'foundations' or fix the id`,
    ];
    expect(result).toEqual({ taken: false, sha: BROKEN });
    expect((await readStoredMap(redis()))?.sha).toBe(GOOD);
    expect(live.get()).toBe(before);
    expect(await redis().get(REFUSED_SHA)).toBe(BROKEN);
    expect(forge.statuses.map((s) => [s.target, s.report])).toEqual([
      [expect.anything(), expect.anything()],
      [{ repo: META, sha: BROKEN, ref: "main" }, {
        name: "openci: map", status: "completed", detailsUrl: undefined, externalId: `map-${BROKEN}`, conclusion: "failure",
        title: "Map refused: 2 problems; the relay keeps the last good map", summary: `\`\`\`\n${problems.join("\n")}\n\`\`\``,
      }],
    ]);
    expect(logs.filter((l) => l.level === ERROR).map(fields)).toEqual([
      ...problems.map((p) => ({ level: ERROR, msg: `dependency map: ${p}`, sha: BROKEN })),
      { level: ERROR, msg: "dependency map: new version refused, the last good map stays active", repo: "github:meta/maps@main:maps", sha: BROKEN, problems: 2 },
    ]);

    // read again (periodic, or another push): its verdict is on its commit already
    expect(await refresh(makeDeps(), "periodic")).toEqual({ taken: false, sha: BROKEN });
    expect(forge.statuses).toHaveLength(2);
    expect(logs.filter((l) => l.level === ERROR)).toHaveLength(3);
  });

  it("does not read a commit another process refused, even with no map stored", async () => {
    await redis().set(REFUSED_SHA, BROKEN);
    head(BROKEN, { "maps/f.yml": "version: 2\nprojects: [{ id: x }]\n" });

    expect(await refresh(makeDeps())).toEqual({ taken: false, sha: BROKEN });
    expect(forge.statuses).toEqual([]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });

  it("counts one problem as one", async () => {
    head(BROKEN, { "maps/f.yml": `${TWO}  - { id: x, foundation: nope, github: o/x }\n` });

    expect(await refresh(makeDeps())).toEqual({ taken: false, sha: BROKEN });
    expect(forge.statuses.map((s) => s.report.title)).toEqual(["Map refused: 1 problem; the relay keeps the last good map"]);
    expect(logged("dependency map: new version refused, the last good map stays active")[0]?.problems).toBe(1);
  });

  it("takes a version with warnings, logs each and shows them on its commit, one a line", async () => {
    head(GOOD, { "maps/f.yml": `${TWO}  - { id: lone, foundation: f, github: upco/lone }\n  - { id: lone2, foundation: f, github: upco/lone2 }\n` });

    const result = await refresh(makeDeps());

    const warnings = [
      `${META}@aaaaaaa:maps/f.yml:6:5: projects[2]: project 'lone' has no upstream and no dependant: nothing will trigger it`,
      `${META}@aaaaaaa:maps/f.yml:7:5: projects[3]: project 'lone2' has no upstream and no dependant: nothing will trigger it`,
    ];
    expect(result).toEqual({ taken: true, sha: GOOD });
    expect(live.get().project("lone")?.id).toBe("lone");
    expect(logs.filter((l) => l.level === WARN).map(fields)).toEqual(warnings.map((w) => ({ level: WARN, msg: `dependency map: ${w}`, sha: GOOD })));
    expect(forge.statuses.map((s) => [s.report.conclusion, s.report.title, s.report.summary])).toEqual([
      ["success", "Map taken: 4 projects from 1 file", `Warnings:\n\n\`\`\`\n${warnings.join("\n")}\n\`\`\``],
    ]);
  });

  it("cuts a verdict's text at 60,000 characters (GitHub takes 65,535), warnings or problems", async () => {
    const many = (n: number, entry: (i: number) => string) => `${HEADER}${Array.from({ length: n }, (_, i) => entry(i)).join("")}`;
    head(GOOD, { "maps/f.yml": many(800, (i) => `  - { id: lone${i}, foundation: f, github: upco/lone${i} }\n`) });
    await refresh(makeDeps());
    head(BROKEN, { "maps/f.yml": many(800, (i) => `  - { id: bad${i}, foundation: nope, github: upco/bad${i} }\n`) });
    await refresh(makeDeps());

    const [taken, refused] = forge.statuses.map((s) => s.report);
    expect(logs.filter((l) => l.level === WARN)).toHaveLength(800);
    expect(taken?.summary).toHaveLength(60_000);
    expect(taken?.summary.startsWith(`Warnings:\n\n\`\`\`\n${META}@aaaaaaa:maps/f.yml:4:5: projects[0]: project 'lone0' has no upstream`)).toBe(true);
    expect(refused?.title).toBe("Map refused: 800 problems; the relay keeps the last good map");
    expect(refused?.summary).toHaveLength(60_000);
    expect(refused?.summary.startsWith(`\`\`\`\n${META}@bbbbbbb:maps/f.yml:4:`)).toBe(true);
  });

  it("reads a GitLab metadata repository on GitLab, and shows its verdict there", async () => {
    forge.heads[`grp/maps@trunk`] = { sha: GOOD, files: [{ path: "f.yml", text: TWO }] };

    const result = await refresh(makeDeps({ mapRepo: { forge: "gitlab", repo: "grp/maps", ref: "trunk", dir: "" } }));

    expect(result).toEqual({ taken: true, sha: GOOD });
    expect(forge.reads).toEqual([["readFiles", "grp/maps", "trunk", ""]]);
    expect(asked).toEqual([{ role: "files", at: { forge: "gitlab", repo: "grp/maps" } }, { role: "reporter", at: { forge: "gitlab", repo: "grp/maps" } }]);
    expect(forge.statuses.map((s) => s.target)).toEqual([{ repo: "grp/maps", sha: GOOD, ref: "trunk" }]);
    expect(logged("dependency map: new version taken")[0]?.repo).toBe("gitlab:grp/maps@trunk:/");
  });

  it("merges the declarations kept so far into the new version", async () => {
    await storeDeclaration(redis(), "github::acme/app", { file: "github:acme/app/.github/openci.yml", text: DECLARES(), location: { forge: "github", repo: "acme/app" } });
    head(GOOD, { "maps/f.yml": TWO });

    await refresh(makeDeps());

    expect(live.get().project("github:acme/app")?.id).toBe("github:acme/app");
    expect(forge.statuses.map((s) => s.report.title)).toEqual(["Map taken: 3 projects from 1 file"]);
  });

  it("keeps the map when the forge refuses its verdict, and says so", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    forge.fail("reportStatus", httpError(403, "Resource not accessible by integration"));

    const result = await refresh(makeDeps());

    expect(result).toEqual({ taken: true, sha: GOOD });
    expect((await readStoredMap(redis()))?.sha).toBe(GOOD);
    expect(logs.filter((l) => l.level === WARN).map((l) => [l.msg, (l.err as { message?: string } | undefined)?.message])).toEqual([
      ["could not show the map's verdict on its commit", "reporting the map's verdict: 403 Resource not accessible by integration: Resource not accessible by integration"],
    ]);
  });

  it("passes on a failure that is not a problem of the map: nothing refused, nothing shown, the lock let go", async () => {
    head(GOOD, { "maps/f.yml": TWO });
    await redis().hset(key("map", "declarations"), "github::acme/app", "{not json");

    const error = await rejection(refresh(makeDeps()));

    expect(error).toBeInstanceOf(SyntaxError);
    expect(await redis().exists(REFUSED_SHA)).toBe(0);
    expect(forge.statuses).toEqual([]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
    expect(await redis().exists(REFRESH_LOCK)).toBe(0);
  });

  it("takes a newer version after a refused one", async () => {
    head(BROKEN, { "maps/f.yml": "version: 2\nprojects: [{ id: x }]\n" });
    await refresh(makeDeps());
    head(NEXT, { "maps/f.yml": TWO });

    expect(await refresh(makeDeps())).toEqual({ taken: true, sha: NEXT });
    expect((await readStoredMap(redis()))?.sha).toBe(NEXT);
  });
});

describe("processDeclaration", () => {
  const GITHUB_FILE = "github:acme/app/.github/openci.yml";
  const job = (o: Partial<DeclarationJob> = {}): DeclarationJob => ({ forge: "github", repo: "acme/app", reason: "push", sha: PUSHED, installationId: 3, ...o });
  const declare = (deps: WorkerDeps, o: Partial<DeclarationJob> = {}) => processDeclaration(job(o), deps, log);
  const stored = async () => (await readSources(redis())).declarations;
  const version = async () => (await readSources(redis())).version;

  beforeEach(() => {
    live = liveMap(LOCAL);
  });

  it("takes a valid declaration: kept with the map's sources, live here, its verdict on the pushed commit", async () => {
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: true, refused: 0 });
    expect(forge.reads).toEqual([["readFile", "acme/app", ".github/openci.yml", undefined]]);
    expect(asked.map((a) => [a.role, a.at.forge, a.at.repo])).toEqual([["files", "github", "acme/app"], ["reporter", "github", "acme/app"]]);
    expect(await stored()).toEqual([{ file: GITHUB_FILE, text: DECLARES(), location: { forge: "github", repo: "acme/app" } }]);
    expect(live.get().edge("up", "github:acme/app")).toBeDefined();
    expect(live.version).toBe(await version());
    expect(forge.statuses).toEqual([{
      target: { repo: "acme/app", sha: PUSHED, ref: undefined }, remoteId: undefined, id: expect.any(String),
      report: {
        name: "openci: declaration", status: "completed", detailsUrl: undefined, externalId: `declaration-${PUSHED}`, conclusion: "success",
        title: "Declaration taken into the dependency map", summary: ".github/openci.yml is part of the relay's map.",
      },
    }]);
    expect(logs.map(fields).filter((l) => l.msg === "declaration read")).toEqual([
      { level: INFO, msg: "declaration read", repo: "acme/app", path: ".github/openci.yml", reason: "push", taken: true },
    ]);
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
  });

  it("shows no verdict when no commit was pushed (the app installed)", async () => {
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();

    const result = await declare(makeDeps(), { reason: "installed", sha: undefined });

    expect(result).toEqual({ declared: true, refused: 0 });
    expect(forge.statuses).toEqual([]);
    expect(logged("declaration read")[0]?.reason).toBe("installed");
  });

  it("refuses a version with a problem: the last good one stays, the problem logged and shown on the pushed commit", async () => {
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();
    await declare(makeDeps(), { sha: undefined });
    const before = [live.get(), await version()];
    forge.texts["acme/app/.github/openci.yml"] = "depends_on: [{ project: up }]\n";

    const result = await declare(makeDeps());

    const problem = `${GITHUB_FILE}:1:1: 'trigger' is required: add it`;
    expect(result).toEqual({ declared: false, refused: 1 });
    expect((await stored()).map((d) => d.text)).toEqual([DECLARES()]);
    expect([live.get(), await version()]).toEqual(before);
    expect(forge.statuses.map((s) => s.report)).toEqual([{
      name: "openci: declaration", status: "completed", detailsUrl: undefined, externalId: `declaration-${PUSHED}`, conclusion: "failure",
      title: "Declaration refused: 1 problem; the last good one stays", summary: `\`\`\`\n${problem}\n\`\`\``,
    }]);
    expect(logs.filter((l) => l.level >= WARN).map(fields)).toEqual([{ level: WARN, msg: `declaration refused, the last good one stays: ${problem}`, repo: "acme/app" }]);
    expect(logged("declaration read").map((l) => l.taken)).toEqual([true, false]);
  });

  it("counts two problems as two", async () => {
    forge.texts["acme/app/.github/openci.yml"] = "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: ghost }, { project: phantom }]\n";

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: false, refused: 2 });
    expect(await stored()).toEqual([]);
    expect(await version()).toBe("0");
    expect(forge.statuses.map((s) => s.report.title)).toEqual(["Declaration refused: 2 problems; the last good one stays"]);
    expect(forge.statuses[0]?.report.summary.split("\n")).toHaveLength(4);
    expect(logged(/^declaration refused, the last good one stays: /)).toHaveLength(2);
  });

  it.each([
    ["on another GitLab instance", "gitlab.other.org", "gitlab:gitlab.other.org/grp/app/.gitlab/openci.yml", { forge: "gitlab", project: "grp/app", host: "gitlab.other.org" }],
    ["on GITLAB_URL's instance", undefined, "gitlab:grp/app/.gitlab/openci.yml", { forge: "gitlab", project: "grp/app" }],
  ])("reads a GitLab project's .gitlab/openci.yml %s, named and placed by its host", async (_where, host, file, location) => {
    forge.texts["grp/app/.gitlab/openci.yml"] = GITLAB_DECLARES;

    const result = await declare(makeDeps(), { forge: "gitlab", repo: "grp/app", host, installationId: undefined });

    expect(result).toEqual({ declared: true, refused: 0 });
    expect(forge.reads).toEqual([["readFile", "grp/app", ".gitlab/openci.yml", undefined]]);
    expect(asked.map((a) => [a.role, a.at.forge, a.at.repo, a.at.host])).toEqual([["files", "gitlab", "grp/app", host], ["reporter", "gitlab", "grp/app", host]]);
    expect(await stored()).toEqual([{ file, text: GITLAB_DECLARES, location }]);
    expect(forge.statuses.map((s) => s.report.summary)).toEqual([".gitlab/openci.yml is part of the relay's map."]);
  });

  it("keeps a listed GitLab project where the map places it, with the map's token", async () => {
    forge.texts["grp/gll/.gitlab/openci.yml"] = GITLAB_DECLARES;

    const result = await declare(makeDeps(), { forge: "gitlab", repo: "grp/gll", host: "gitlab.example.org", installationId: undefined });

    expect(result).toEqual({ declared: true, refused: 0 });
    expect((await stored()).map((d) => [d.file, d.location])).toEqual([
      ["gitlab:gitlab.example.org/grp/gll/.gitlab/openci.yml", { forge: "gitlab", project: "grp/gll", host: "gitlab.example.org", tokenEnv: "GLL_TOKEN" }],
    ]);
  });

  it("replaces the repository's own earlier version, which does not count against its owner's quota", async () => {
    live = liveMap(LOCAL, { maxDeclaredProjectsPerOwner: 1 });
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();
    await declare(makeDeps());
    forge.texts["acme/app/.github/openci.yml"] = DECLARES("other");

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: true, refused: 0 });
    expect((await stored()).map((d) => d.text)).toEqual([DECLARES("other")]);
    expect(live.get().edge("other", "github:acme/app")).toBeDefined();
    expect(live.get().edge("up", "github:acme/app")).toBeUndefined();
  });

  it("counts the owner's other declarations against its quota: one over it is refused, the others kept", async () => {
    live = liveMap(LOCAL, { maxDeclaredProjectsPerOwner: 1 });
    forge.texts["acme/two/.github/openci.yml"] = DECLARES();
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();
    await declare(makeDeps(), { repo: "acme/two" });

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: false, refused: 1 });
    expect((await stored()).map((d) => d.file)).toEqual(["github:acme/two/.github/openci.yml"]);
    expect(forge.statuses.map((s) => s.report.summary)[1]).toContain("refused: acme already has 1 declared repositories the reviewed map does not list (OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER)");
  });

  it("answers only for its own repository: another declaration the map now refuses does not refuse it", async () => {
    await storeMap(redis(), { sha: GOOD, files: [{ file: "repo.yml", text: LIB2 }] });
    await storeDeclaration(redis(), "github::beta/b", { file: "github:beta/b/.github/openci.yml", text: DECLARES("lib2"), location: { forge: "github", repo: "beta/b" } });
    await storeMap(redis(), { sha: NEXT, files: [] }); // lib2 left the metadata repository
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: true, refused: 0 });
    expect((await stored()).map((d) => d.file)).toEqual([GITHUB_FILE, "github:beta/b/.github/openci.yml"]);
    expect(forge.statuses.map((s) => s.report.conclusion)).toEqual(["success"]);
    expect(logs.filter((l) => l.level >= WARN && /^declaration refused/.test(l.msg))).toEqual([]);
  });

  it("is checked with the metadata repository's files", async () => {
    await storeMap(redis(), { sha: GOOD, files: [{ file: "repo.yml", text: LIB2 }] });
    forge.texts["acme/app/.github/openci.yml"] = DECLARES("lib2");

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: true, refused: 0 });
    expect(live.get().edge("lib2", "github:acme/app")).toBeDefined();
  });

  it("removes a declaration whose file is gone: its edges leave the map, the others stay", async () => {
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();
    forge.texts["acme/two/.github/openci.yml"] = DECLARES();
    await declare(makeDeps(), { sha: undefined });
    await declare(makeDeps(), { repo: "acme/two", sha: undefined });
    delete forge.texts["acme/app/.github/openci.yml"];
    const before = Number(await version());

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: false });
    expect((await stored()).map((d) => d.file)).toEqual(["github:acme/two/.github/openci.yml"]);
    expect(Number(await version())).toBe(before + 1);
    expect(live.get().project("github:acme/app")).toBeUndefined();
    expect(live.get().project("github:acme/two")?.id).toBe("github:acme/two");
    expect(forge.statuses).toEqual([]);
    expect(logged("declaration removed: its edges leave the map").map(fields)).toEqual([
      { level: INFO, msg: "declaration removed: its edges leave the map", repo: "acme/app", path: ".github/openci.yml" },
    ]);
  });

  it("changes nothing when a repository that never declared has no file", async () => {
    forge.texts["acme/two/.github/openci.yml"] = DECLARES();
    await declare(makeDeps(), { repo: "acme/two", sha: undefined });
    const before = await version();

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: false });
    expect((await stored()).map((d) => d.file)).toEqual(["github:acme/two/.github/openci.yml"]);
    expect(await version()).toBe(before);
    expect(logged(/declaration removed/)).toEqual([]);
    expect(logged("declaration read")).toHaveLength(1);
  });

  it("without a live map (the interface allows it), keeps and removes declarations in Redis alone", async () => {
    const deps = makeDeps({ live: undefined });
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();

    expect(await declare(deps)).toEqual({ declared: true, refused: 0 });
    expect((await stored()).map((d) => d.file)).toEqual([GITHUB_FILE]);
    delete forge.texts["acme/app/.github/openci.yml"];
    expect(await declare(deps)).toEqual({ declared: false });
    expect(await stored()).toEqual([]);
  });

  it("says what it could not read, classified; nothing changes", async () => {
    forge.fail("readFile", httpError(502));

    const error = await rejection(declare(makeDeps()));

    expect(error).toBeInstanceOf(ForgeError);
    expect([error.message, (error as ForgeError).kind]).toEqual(["reading .github/openci.yml of acme/app: 502 Bad Gateway", "transient"]);
    expect(await version()).toBe("0");
  });

  it("keeps the declaration when the forge refuses its verdict, and says so", async () => {
    forge.texts["acme/app/.github/openci.yml"] = DECLARES();
    forge.fail("reportStatus", httpError(403, "Resource not accessible by integration"));

    const result = await declare(makeDeps());

    expect(result).toEqual({ declared: true, refused: 0 });
    expect((await stored()).map((d) => d.file)).toEqual([GITHUB_FILE]);
    expect(logs.filter((l) => l.level === WARN).map((l) => [l.msg, (l.err as { message?: string } | undefined)?.message])).toEqual([
      ["could not show the declaration's verdict on its commit", "reporting the declaration's verdict: 403 Resource not accessible by integration: Resource not accessible by integration"],
    ]);
  });
});
