import { describe, expect, it } from "@jest/globals";
import { main } from "../../src/cli/main.js";
import { COMMIT, UPSTREAM, upstreamRepo, useHarness } from "../helpers/scenario.js";
import { downstreamChecks } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";
import { GITHUB_TO_GITLAB_MAP } from "../helpers/maps.js";

const ADMIN = "cli-admin-token-0123456789";
const MAP = GITHUB_TO_GITLAB_MAP;
const startHarness = useHarness();

async function cli(args: string[], env: Record<string, string>) {
  let out = "";
  let err = "";
  const code = await main(args, env, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe("openci-relay rerun", () => {
  it("asks the relay to re-run a downstream: a failed GitHub check's GitLab pipeline is retried", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, gitlabProjects: ["group/tool"], env: { OPENCI_ADMIN_TOKEN: ADMIN } });
    await h.send("create.tag");
    const pipeline = await waitFor("a pipeline", () => h.gitlab!.pipelines[0]);
    pipeline.status = "failed";
    await waitFor("the check failed", () => downstreamChecks(h.github).find((c) => c.conclusion === "failure"));

    const run = await cli(["rerun", "--upstream", "hello", "--sha", COMMIT, "--downstream", "gl/tool"], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: ADMIN });
    await waitFor("the retry", () => pipeline.retried === 1);
    const again = await waitFor("a new check run linking the pipeline", () => downstreamChecks(h.github).find((c) => c.status !== "completed" && c.details_url));

    expect(run).toEqual({ code: 0, out: `re-run queued: gl/tool of hello@${COMMIT}\n`, err: "" });
    expect(again.details_url).toBe(`${h.gitlab!.url}/group/tool/-/pipelines/${pipeline.id}`);
    expect(h.gitlab!.pipelines).toHaveLength(1);
  });

  it("says what is wrong: usage (2), the relay refusing or unreachable (1)", async () => {
    const h = await startHarness({ map: MAP, repos: { [UPSTREAM]: upstreamRepo() }, env: { OPENCI_ADMIN_TOKEN: ADMIN } });

    const missing = await cli(["rerun", "--upstream", "hello"], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: ADMIN });
    const unknownFlag = await cli(["rerun", "--upstraem", "hello"], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: ADMIN });
    const wrongToken = await cli(["rerun", "--upstream", "hello", "--sha", COMMIT], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: "not-the-admin-token" });
    const unknownProject = await cli(["rerun", "--upstream", "nope", "--sha", COMMIT], { OPENCI_URL: h.url, OPENCI_ADMIN_TOKEN: ADMIN });
    const unreachable = await cli(["rerun", "--upstream", "hello", "--sha", COMMIT, "--url", "http://127.0.0.1:9"], { OPENCI_ADMIN_TOKEN: ADMIN });
    const help = await cli(["--help"], {});

    expect([missing.code, unknownFlag.code, wrongToken.code, unknownProject.code, unreachable.code, help.code]).toEqual([2, 2, 1, 1, 1, 0]);
    expect(missing.err).toContain("missing --sha");
    expect(unknownFlag.err).toContain("--upstraem");
    expect(wrongToken.err).toContain("the relay answered 401");
    expect(unknownProject.err).toContain("no project 'nope' in the dependency map");
    expect(unreachable.err).toContain("cannot reach the relay at http://127.0.0.1:9");
    expect(help.out).toContain("openci-relay rerun --upstream PROJECT --sha COMMIT");
  });
});
