import { describe, expect, it } from "@jest/globals";
import type { Harness } from "../helpers/relay-harness.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { runIdOf, runningCheck, sendRun } from "../helpers/runs.js";
import { startSinkServer } from "../helpers/sink-server.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * Issue 15: a private downstream of another owner never shows where anyone can read, and an
 * upstream decides who reports on its commits. Two installations: Codertocat's (the public
 * upstream and a public downstream of the same owner) and secretcorp's (a private downstream).
 */
const PUBLIC_DOWN = "Codertocat/app";
const PRIVATE_DOWN = "secretcorp/internal-ci";
const SECRET_WORDS = ["secretcorp", "internal-ci", "secret-ci"];
const READ_TOKEN = "read-token-0123456789abcdef";

const MAP = (upstreamReport = "") => `
version: 2
foundations: [{ id: lf, name: The Linux Foundation }]
projects:
  - id: hello
    foundation: lf
    github: ${UPSTREAM}${upstreamReport}
  - id: app
    foundation: lf
    github: ${PUBLIC_DOWN}
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
  - id: secret-ci
    foundation: lf
    github: ${PRIVATE_DOWN}
    trigger: { workflow: ci.yml, ref: main }
    depends_on: [{ project: hello }]
`;

const repos = () => ({
  [UPSTREAM]: upstreamRepo(),
  [PRIVATE_DOWN]: { installationId: 2, private: true, workflows: { "ci.yml": {} } },
  [PUBLIC_DOWN]: { installationId: 1, workflows: { "ci.yml": {} } },
});

const startHarness = useHarness();
const dispatchesTo = (h: Harness, repo: string) => h.github.calls("actions/create-workflow-dispatch").filter((c) => `${c.params.owner}/${c.params.repo}` === repo);

/** Everything the relay wrote on GitHub (check runs, comments), as text. */
const writtenUpstream = (h: Harness) => JSON.stringify(h.github.requests.filter((r) => r.method !== "GET" && r.operationId !== "actions/create-workflow-dispatch").map((r) => ({ path: r.path, body: r.body })));

const get = async (h: Harness, path: string, token?: string) => {
  const res = await fetch(`${h.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: Buffer.from(await res.arrayBuffer()).toString("latin1") };
};

/** The event stream replayed from the start, for as long as it takes to send what there is. */
async function replay(h: Harness, token?: string): Promise<string> {
  const abort = new AbortController();
  const res = await fetch(`${h.url}/api/v1/events?lastEventId=0-0`, { signal: abort.signal, headers: token ? { authorization: `Bearer ${token}` } : {} });
  let text = "";
  const reader = res.body!.getReader();
  const until = Date.now() + 1500;
  try {
    while (Date.now() < until) {
      const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(() => r(undefined), until - Date.now()))]);
      if (!chunk || chunk.done) break;
      text += Buffer.from(chunk.value).toString("utf8");
    }
  } finally {
    abort.abort();
  }
  return text;
}

/** Both downstreams triggered and failed, with failing jobs. */
async function bothFail(h: Harness) {
  await h.send("create.tag");
  const app = runIdOf(await runningCheck(h, "openci: app"));
  const secretDispatch = await waitFor("the private downstream dispatched", () => dispatchesTo(h, PRIVATE_DOWN)[0]);
  const secret = h.github.dispatchedRuns.find((r) => r.repo === PRIVATE_DOWN)!.runId;
  h.github.runJobs[app] = [{ name: "unit", conclusion: "failure" }];
  h.github.runJobs[secret] = [{ name: "secret-ci integration", conclusion: "failure" }];
  await sendRun(h, { repo: PUBLIC_DOWN, id: app, conclusion: "failure" });
  await sendRun(h, { repo: PRIVATE_DOWN, id: secret, conclusion: "failure", private: true });
  await waitFor("the failure comment", () => h.github.comments[0]?.body.includes("app"));
  return { app, secret, secretDispatch };
}

describe("a private downstream of another owner", () => {
  it("is triggered once and recorded privately: no public surface and nothing on the upstream's commit shows it", async () => {
    const sink = await startSinkServer();
    const h = await startHarness({
      map: MAP(), repos: repos(),
      env: { OPENCI_READ_TOKEN: READ_TOKEN, OPENCI_SINKS: JSON.stringify([{ id: "public-feed", url: sink.url, secret: "s".repeat(20) }]) },
    });
    try {
      const { secret } = await bothFail(h);
      const api = await waitFor("the private run recorded", async () => {
        const r = await get(h, "/api/v1/releases/hello/simple-tag", READ_TOKEN);
        return r.text.includes("secret-ci") && r.text.includes("failed") ? r : undefined;
      });
      await waitFor("the public feed got the public run's end", () => sink.accepted().some((d) => d.body.includes("pipelinerun") || d.headers["ce-type"]?.toString().includes("pipelinerun.finished")));
      await h.idle({ watch: [sink] });

      const secretRunUrl = `${PRIVATE_DOWN}/actions/runs/${secret}`;
      const surfaces = {
        upstreamWrites: writtenUpstream(h),
        matrix: (await get(h, "/")).text,
        releasePage: (await get(h, "/releases/hello/simple-tag")).text,
        projects: (await get(h, "/projects")).text,
        upstreamPage: (await get(h, "/projects/hello")).text,
        now: (await get(h, "/now")).text,
        releaseApi: (await get(h, "/api/v1/releases/hello/simple-tag")).text,
        commitApi: (await get(h, `/api/v1/commits/hello/${COMMIT}`)).text,
        stream: await replay(h),
        car: (await get(h, "/api/v1/history.car")).text,
        subscriber: sink.deliveries.map((d) => `${JSON.stringify(d.headers)}${d.body}`).join("\n"),
      };
      const privateProject = await get(h, "/api/v1/projects/secret-ci/history");
      const unknownProject = await get(h, "/api/v1/projects/no-such-project/history");

      expect(dispatchesTo(h, PRIVATE_DOWN)).toHaveLength(1);
      for (const [surface, text] of Object.entries(surfaces)) {
        for (const word of [...SECRET_WORDS, secretRunUrl]) expect({ surface, leaks: text.includes(word) ? word : null }).toEqual({ surface, leaks: null });
      }
      expect(surfaces.upstreamWrites).toContain("openci: app");
      expect(surfaces.releaseApi).toContain('"private_downstreams":1');
      expect(privateProject.status).toBe(404);
      expect(privateProject.text.replace("secret-ci", "X")).toBe(unknownProject.text.replace("no-such-project", "X"));
      expect(downstreamChecks(h.github).map((c) => c.name)).toEqual(["openci: app"]);
      expect(JSON.parse(api.text).downstreams.map((d: { project: string; status: string }) => [d.project, d.status])).toEqual([["app", "failed"], ["secret-ci", "failed"]]);
    } finally {
      await sink.stop();
    }
  });

  it("with the upstream's owner, is shown on the upstream's commit", async () => {
    const h = await startHarness({
      map: MAP().replace(`github: ${PRIVATE_DOWN}`, "github: Codertocat/private-ci"),
      repos: { ...repos(), "Codertocat/private-ci": { installationId: 1, private: true, workflows: { "ci.yml": {} } } },
    });

    await h.send("create.tag");
    const check = await runningCheck(h, "openci: secret-ci");

    expect(check.head_sha).toBe(COMMIT);
  });
});

describe("a repository's visibility changing", () => {
  it("turned private leaves the public views from then on; turned public, it is back", async () => {
    const h = await startHarness({ map: MAP(), repos: repos() });
    await h.send("create.tag");
    await runningCheck(h, "openci: app");
    const before = await waitFor("the release in the public API", async () => {
      const r = await get(h, "/api/v1/releases/hello/simple-tag");
      return r.status === 200 ? r : undefined;
    });

    await h.send("repository.privatized");
    const hidden = {
      api: await get(h, "/api/v1/releases/hello/simple-tag"),
      matrix: (await get(h, "/")).text,
      car: (await get(h, "/api/v1/history.car")).text,
      stream: await replay(h),
    };
    await h.send("repository.publicized");
    const back = await get(h, "/api/v1/releases/hello/simple-tag");

    expect(before.text).toContain('"project":"hello"');
    expect(hidden.api.status).toBe(404);
    expect(hidden.matrix).not.toContain("simple-tag");
    expect(hidden.car).not.toContain(UPSTREAM);
    expect(hidden.stream).not.toContain(UPSTREAM);
    expect(back.status).toBe(200);
    expect(back.text).toContain('"project":"hello"');
  });

  it("a downstream of another owner turned private leaves the upstream's roll-up and comment from then on", async () => {
    const other = "otherorg/tests";
    const h = await startHarness({
      map: MAP().replace(`github: ${PRIVATE_DOWN}`, `github: ${other}`),
      repos: { ...repos(), [other]: { installationId: 3, workflows: { "ci.yml": {} } } },
    });
    await h.send("create.tag");
    await runningCheck(h, "openci: app");
    // the fake edits a check run in place: its texts are read when seen
    const before = await waitFor("the roll-up lists both", () => h.github.checkRuns.find((c) => c.name === "openci" && c.output.summary?.includes("secret-ci"))?.output.title);
    const run = h.github.dispatchedRuns.find((r) => r.repo === other)!.runId;

    await h.send("repository.privatized", (p) => (p.repository.full_name = other));
    await sendRun(h, { repo: other, id: run, conclusion: "failure", private: true });
    await waitFor("the run recorded", async () => (await get(h, "/api/v1/releases/hello/simple-tag")).text.includes("private_downstreams\":1"));
    const after = await waitFor("the roll-up without it", () => h.github.checkRuns.find((c) => c.name === "openci" && !c.output.summary?.includes("secret-ci"))?.output.title);
    await h.idle();

    expect(before).toBe("0 of 2 downstreams passed, 2 still running");
    expect(after).toBe("0 of 1 downstreams passed, 1 still running");
    expect(h.github.comments).toEqual([]);
    // what was written before stays (GitHub lets no app delete a check run); its failure is not written
    expect(downstreamChecks(h.github).find((c) => c.name === "openci: secret-ci")).toMatchObject({ conclusion: null });
  });

  it("when the only downstream shown leaves, the roll-up says so and ends instead of running forever", async () => {
    const other = "otherorg/tests";
    const onlyOther = `version: 2\nfoundations: [{ id: lf, name: LF }]\nprojects:\n  - { id: hello, foundation: lf, github: ${UPSTREAM} }\n`
      + `  - id: tests\n    foundation: lf\n    github: ${other}\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: hello }]\n`;
    const h = await startHarness({ map: onlyOther, repos: { [UPSTREAM]: upstreamRepo(), [other]: { installationId: 3, workflows: { "ci.yml": {} } } } });
    await h.send("create.tag");
    const before = await waitFor("the roll-up lists it", () => h.github.checkRuns.find((c) => c.name === "openci" && c.output.summary?.includes("tests"))?.output.title);
    const run = h.github.dispatchedRuns.find((r) => r.repo === other)!.runId;

    await h.send("repository.privatized", (p) => (p.repository.full_name = other));
    await sendRun(h, { repo: other, id: run, conclusion: "failure", private: true });
    const after = await waitFor("the roll-up without it", () => {
      const rollup = h.github.checkRuns.find((c) => c.name === "openci");
      return rollup?.status === "completed" ? { title: rollup.output.title, conclusion: rollup.conclusion, summary: rollup.output.summary ?? "" } : undefined;
    });
    await h.idle();

    expect(before).toBe("0 of 1 downstreams passed, 1 still running");
    expect(after.title).toBe("No downstream is shown on this commit");
    expect(after.conclusion).toBe("neutral");
    expect(after.summary).not.toContain(other);
    expect(h.github.comments).toEqual([]);
  });
});

const DECLARING = "acme/app";
const declaredRepos = () => ({
  [UPSTREAM]: upstreamRepo(),
  [DECLARING]: {
    installationId: 3, workflows: { "ci.yml": {} },
    contents: { main: { sha: "a".repeat(40), files: { ".github/openci.yml": "trigger: { workflow: ci.yml, ref: main }\ndepends_on: [{ project: hello }]\n" } } },
  },
});
const installDeclaring = async (h: Harness) => {
  await h.send("installation.created", (p) => {
    p.installation.id = 3;
    p.repositories = [{ ...p.repositories[0], full_name: DECLARING, name: "app", private: false }];
  });
  await waitFor("the declaration read", () => h.logs.some((l) => l.includes("declaration read")));
};

describe("a downstream that only declared itself", () => {
  it("is triggered, but nothing is written on the upstream's commits without the upstream's consent", async () => {
    const h = await startHarness({ map: `version: 2\nfoundations: [{ id: lf, name: LF }]\nprojects:\n  - id: hello\n    foundation: lf\n    github: ${UPSTREAM}\n`, repos: declaredRepos() });
    await installDeclaring(h);

    await h.send("create.tag");
    await waitFor("acme/app dispatched", () => dispatchesTo(h, DECLARING)[0]);
    const run = h.github.dispatchedRuns.find((r) => r.repo === DECLARING)!.runId;
    h.github.runJobs[run] = [{ name: "e2e", conclusion: "failure" }];
    await sendRun(h, { repo: DECLARING, id: run, conclusion: "failure" });
    await waitFor("the run recorded", async () => (await get(h, "/api/v1/releases/hello/simple-tag")).text.includes('"failed"'));
    await h.idle();

    expect(h.github.checkRuns.filter((c) => c.repo === UPSTREAM)).toEqual([]);
    expect(h.github.comments).toEqual([]);
  });

  it("is shown on the upstream's commits when the reviewed map says report: { declared: true }", async () => {
    const h = await startHarness({ map: `version: 2\nfoundations: [{ id: lf, name: LF }]\nprojects:\n  - id: hello\n    foundation: lf\n    github: ${UPSTREAM}\n    report: { declared: true }\n`, repos: declaredRepos() });
    await installDeclaring(h);

    await h.send("create.tag");
    // not in the reviewed map: its id is namespaced (issue 16, finding 8)
    const check = await runningCheck(h, "openci: github:acme/app");

    expect(check.repo).toBe(UPSTREAM);
  });

  it("is never triggered by a private upstream", async () => {
    const h = await startHarness({ map: `version: 2\nfoundations: [{ id: lf, name: LF }]\nprojects:\n  - id: hello\n    foundation: lf\n    github: ${UPSTREAM}\n    report: { declared: true }\n`, repos: declaredRepos() });
    await installDeclaring(h);

    await h.send("create.tag", (p) => (p.repository.private = true));
    await waitFor("the tag worked on", () => h.logs.some((l) => l.includes("self-declared dependant not triggered")));
    await h.idle();

    expect(dispatchesTo(h, DECLARING)).toEqual([]);
  });
});

describe("text from a downstream", () => {
  it("reaches the upstream's comment and check without live mentions, foreign links or HTML", async () => {
    const h = await startHarness({ map: MAP(), repos: repos() });
    await h.send("create.tag");
    const app = runIdOf(await runningCheck(h, "openci: app"));
    h.github.runJobs[app] = [{ name: "@acme/maintainers see [details](http://evil.example/)", conclusion: "failure" }];

    await sendRun(h, { repo: PUBLIC_DOWN, id: app, conclusion: "failure", title: "<img src=x onerror=alert(1)> @all" });
    const comment = await waitFor("the failure comment", () => h.github.comments[0]?.body);
    const check = await waitFor("the check failed", () => downstreamChecks(h.github).find((c) => c.name === "openci: app" && c.conclusion === "failure"));
    const written = [comment, check.output.title ?? "", check.output.summary ?? ""].join("\n");

    expect(written).toContain("maintainers");
    expect(written).not.toMatch(/(^|[^\w`])@(acme|all)\b/);
    expect(written).not.toContain("](http://evil.example");
    expect(written).not.toContain("http://evil.example");
    expect(written).not.toMatch(/<img|<a /i);
  });
});
