import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { sendGithubDelivery } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { relayUrl, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { waitFor } from "../helpers/wait-for.js";
import { acmeAppRepo } from "../helpers/upstream.js";

let github: FakeGithub | undefined;
let relay: SpawnedRelay | undefined;
afterEach(async () => {
  relay?.child.kill("SIGKILL");
  await github?.stop();
});

describe("the relay as `npm start` runs it", () => {
  it("starts its own Redis, relays a tag from one repository to another's workflow, and stops cleanly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "openci-npm-start-"));
    const commit = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    github = await FakeGithub.start({
      appId: 7, privateKey: appPrivateKey(),
      repos: {
        "Codertocat/Hello-World": { installationId: 1, tags: { "simple-tag": { type: "commit", sha: commit } } },
        "acme/app": acmeAppRepo(),
      },
    });
    writeFileSync(join(dir, "openci-map.yml"),
      "projects:\n  - id: hello\n    github: Codertocat/Hello-World\n  - id: acme/app\n    github: acme/app\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: hello }]\n");
    writeFileSync(join(dir, ".env"), `APP_ID=7\nWEBHOOK_SECRET=s3cret\nPRIVATE_KEY="${appPrivateKey().replace(/\n/g, "\\n")}"\n`);
    relay = spawnRelay({ GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: "0", HOST: "127.0.0.1" }, dir);
    const url = await relayUrl(relay, 30_000);
    await waitFor("the relay to be ready", async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 30_000);
    const redisPid = Number(readFileSync(join(dir, ".data/redis/redis.pid"), "utf8"));
    const res = await sendGithubDelivery(url, "push", githubFixture("push.tag"), { secret: "s3cret" });
    await waitFor("an in-progress check run", () => github!.checkRuns.some((c) => c.status === "in_progress"), 20_000);
    relay.child.kill("SIGTERM");
    const code = await relay.exited;

    expect(res.status).toBe(200);
    expect(github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(github.checkRuns[0]).toMatchObject({ repo: "Codertocat/Hello-World", head_sha: commit, name: "openci: acme/app" });
    expect(code).toBe(0);
    expect(existsSync(`/proc/${redisPid}`)).toBe(false);
    expect(existsSync(join(dir, ".data/redis/appendonlydir"))).toBe(true);
    expect(github.problems).toEqual([]);
  });
});
