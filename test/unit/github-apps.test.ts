/**
 * GithubApps' clients: one per installation and lane, made once in a process and reused (an Octokit
 * with its plugins cost 0.2–0.3 ms to build, several times a tag), still paced and budgeted once per
 * request, with tokens from Probot's cache; a client that could not be made is not kept.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { Probot } from "probot";
import { GithubApps } from "../../src/forge/github-apps.js";
import { RelayOctokit } from "../../src/forge/github-octokit.js";
import { ForgeLimits } from "../../src/forge/minute-budget.js";
import { WritePacer } from "../../src/forge/write-pacer.js";
import { createLogger } from "../../src/log.js";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { appPrivateKey } from "../helpers/keys.js";
import { useTestRedisClient } from "../helpers/redis-client.js";
import { rejection } from "../helpers/worker-deps.js";

const APP_ID = 4242;
const redis = useTestRedisClient();
let github: FakeGithub;
let probot: Probot;

beforeAll(async () => {
  github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: { "up/lib": { installationId: 7 }, "down/app": { installationId: 8 } } });
  probot = new Probot({ appId: APP_ID, privateKey: appPrivateKey(), baseUrl: `http://${github.host}/api/v3`, Octokit: RelayOctokit, log: createLogger("silent") });
});
beforeEach(async () => {
  await redis().flushdb();
  github.requests.length = 0;
});
afterEach(() => {
  expect(github.problems).toEqual([]);
});
afterAll(async () => {
  await github.stop();
});

const apps = (o: { writesPerMinute?: number } = {}) =>
  new GithubApps(probot, redis(), new WritePacer(0), o.writesPerMinute === undefined ? undefined : { limits: new ForgeLimits(redis()), writesPerMinute: o.writesPerMinute, pointsPerMinute: 0 });

describe("GithubApps.client: one client per installation and lane, kept", () => {
  it("gives the same client for the same installation and lane, another for another lane or installation", async () => {
    const a = apps();

    const report = await a.client(7, "report");
    const [again, concurrent] = await Promise.all([a.client(7, "report"), a.client(7, "report")]);
    const trigger = await a.client(7, "trigger");
    const other = await a.client(8, "report");

    expect(again).toBe(report);
    expect(concurrent).toBe(report);
    expect(trigger).not.toBe(report);
    expect(other).not.toBe(report);
    expect(await a.clientForRepo("up/lib", "report")).toBe(report);
  });

  it("each write through a kept client is counted once against the budget (its pacing and budget hook is not added again)", async () => {
    const a = apps({ writesPerMinute: 2 });
    const create = async () => (await a.client(7, "report")).request("POST /repos/{owner}/{repo}/check-runs", { owner: "up", repo: "lib", name: "openci: x", head_sha: "a".repeat(40) });

    await create();
    await create();
    const third = (await rejection(create())).message;

    expect(github.calls("checks/create")).toHaveLength(2);
    // two writes a minute: the third waits in the queue (a budget error), it is not sent
    expect(third).toMatch(/installation 7/);
  });

  it("does not keep a client that could not be made: the next call makes it again", async () => {
    let calls = 0;
    const flaky = {
      auth: async (installationId?: number) => {
        calls++;
        if (calls === 1) throw new Error("the app's key could not be read");
        return probot.auth(installationId);
      },
    } as unknown as Probot;
    const a = new GithubApps(flaky, redis(), new WritePacer(0));

    const first = (await rejection(a.client(7, "report"))).message;
    const second = await a.client(7, "report");

    expect(first).toBe("the app's key could not be read");
    expect(second).toBe(await a.client(7, "report"));
    expect(calls).toBe(2);
  });
});
