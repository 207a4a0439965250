import { networkInterfaces } from "node:os";
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv as parseDotenv } from "node:util";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { sendGithubDelivery } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { readSetupForm, submitSetupForm } from "../helpers/setup-flow.js";
import { ROOT, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { waitFor } from "../helpers/wait-for.js";
import { freePort } from "../../src/util/free-port.js";
import { createLogger } from "../../src/log.js";
import { startSetupServer, type SetupServer } from "../../src/setup/setup-server.js";
import { GITHUB_EVENTS } from "../../src/web/github-webhooks.js";
import { upstreamRepo } from "../helpers/upstream.js";

const APP_ID = 7;
let github: FakeGithub | undefined;
let redis: TestRedis | undefined;
let setup: SetupServer | undefined;
const relays: SpawnedRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) r.child.kill("SIGKILL");
  await setup?.close();
  setup = undefined;
  await github?.stop();
  await redis?.cleanup();
  redis = undefined;
});

const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "openci-setup-"));
  copyFileSync(join(ROOT, "app.yml"), join(dir, "app.yml"));
  return dir;
};

describe("registering the GitHub App from the relay (manifest flow)", () => {
  it("serves the setup page without APP_ID, creates the app on GitHub, writes .env, and then starts with it; a second start leaves .env alone", async () => {
    const dir = freshDir();
    github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: { "Codertocat/Hello-World": upstreamRepo() } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const common = { GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: String(port), HOST: "127.0.0.1", OPENCI_PUBLIC_URL: "https://relay.example.org" };
    relays.push(spawnRelay(common, dir));

    const page = await waitFor("the setup page", async () => {
      const res = await fetch(`${base}/setup`).catch(() => undefined);
      return res?.status === 200 ? res.text() : undefined;
    }, 30_000);
    const form = readSetupForm(page);
    const callback = await submitSetupForm(form);
    const done = await fetch(callback);
    const doneHtml = await done.text();
    const env = parseDotenv(readFileSync(join(dir, ".env"), "utf8"));
    const mode = statSync(join(dir, ".env")).mode & 0o777;

    expect(form.action).toMatch(new RegExp(`^http://${github.host}/settings/apps/new\\?state=[0-9a-f]{32}$`));
    expect(form.manifest).toMatchObject({
      name: "OpenCI Relay", hook_attributes: { url: "https://relay.example.org/api/github/webhooks", active: true },
      redirect_url: `${base}/setup/callback`, default_permissions: { checks: "write", actions: "write" },
    });
    expect(new URL(callback).searchParams.get("state")).toBe(new URL(form.action).searchParams.get("state"));
    expect(done.status).toBe(200);
    expect(doneHtml).toContain(`href="http://${github.host}/apps/${github.appSlug}/installations/new"`);
    expect(env).toEqual({ APP_ID: String(APP_ID), PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: github.createdWebhookSecret, GITHUB_APP_SLUG: github.appSlug });
    expect(mode).toBe(0o600);
    expect(github.calls("apps/create-from-manifest")).toHaveLength(1);
    expect(github.problems).toEqual([]);

    // The person restarts: the relay starts with the app, and takes deliveries signed with its new secret.
    relays.pop()!.child.kill("SIGTERM");
    redis = await startTestRedis();
    const written = readFileSync(join(dir, ".env"), "utf8");
    writeFileSync(join(dir, "openci-map.yml"), "projects:\n  - id: hello\n    github: Codertocat/Hello-World\n");
    await waitFor("the port to be free", async () => (await fetch(`${base}/healthz`).catch(() => undefined)) === undefined, 10_000);
    const relay = spawnRelay({ ...common, REDIS_URL: redis.url, OPENCI_RECONCILE_MS: "0" }, dir);
    relays.push(relay);
    await waitFor("the relay to be ready", async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 30_000);
    const delivery = await sendGithubDelivery(base, "push", githubFixture("push.tag"), { secret: github.createdWebhookSecret! });

    expect(delivery.status).toBe(200);
    expect(readFileSync(join(dir, ".env"), "utf8")).toBe(written);
    expect(relay.output().stdout).not.toContain("setup");
  });

  it("refuses a callback it did not start, shows GitHub's refusal as a page, and never overwrites what .env holds", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, ".env"), "# mine\nAPP_ID=\nWEBHOOK_SECRET=my-own-secret\n");
    github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: {} });
    setup = await startSetupServer({
      env: { GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: 0, HOST: "127.0.0.1", LOG_LEVEL: "silent", LOG_FORMAT: undefined, OPENCI_PUBLIC_URL: undefined, WEBHOOK_PROXY_URL: "https://smee.io/abc123" },
      envFile: join(dir, ".env"), appYml: join(dir, "app.yml"), log: createLogger("silent"),
    });

    const forged = await fetch(`${setup.url}/setup/callback?code=abc&state=${"0".repeat(32)}`);
    const refusedForm = readSetupForm(await (await fetch(`${setup.url}/setup?org=acme`)).text());
    github.fail("apps/create-from-manifest", 422, { body: { message: "Code has expired", documentation_url: "https://docs.github.com/rest" } });
    const refused = await fetch(await submitSetupForm(refusedForm));
    const refusedHtml = await refused.text();
    const form = readSetupForm(await (await fetch(`${setup.url}/setup`)).text());
    const callback = await submitSetupForm(form);
    const done = await (await fetch(callback)).text();
    const replayed = await fetch(callback);
    const env = readFileSync(join(dir, ".env"), "utf8");

    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain("not from this relay");
    expect(refusedForm.action).toMatch(new RegExp(`^http://${github.host}/organizations/acme/settings/apps/new\\?state=`));
    expect(refusedForm.manifest.hook_attributes.url).toBe("https://smee.io/abc123");
    expect(refused.status).toBe(502);
    expect(refusedHtml).toContain("GitHub answered 422 (Code has expired)");
    expect(done).toContain("Already set in");
    expect(done).toContain("<code>WEBHOOK_SECRET</code>");
    expect(replayed.status).toBe(400);
    expect(parseDotenv(env)).toEqual({ APP_ID: String(APP_ID), WEBHOOK_SECRET: "my-own-secret", PRIVATE_KEY: appPrivateKey(), GITHUB_APP_SLUG: github.appSlug });
    expect(env.startsWith(`# mine\nAPP_ID="${APP_ID}"\nWEBHOOK_SECRET=my-own-secret\n`)).toBe(true);
    expect(github.problems).toEqual([]);
  });

  it("without HOST, listens on loopback only: no other machine can open the page that picks the relay's app", async () => {
    const dir = freshDir();
    setup = await startSetupServer({
      env: { GHE_HOST: undefined, GHE_PROTOCOL: "https", PORT: 0, HOST: undefined, LOG_LEVEL: "silent", LOG_FORMAT: undefined, OPENCI_PUBLIC_URL: undefined, WEBHOOK_PROXY_URL: undefined },
      envFile: join(dir, ".env"), appYml: join(dir, "app.yml"), log: createLogger("silent"),
    });
    const port = new URL(setup.url).port;
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal)?.address ?? "192.0.2.1";

    const local = await fetch(`http://127.0.0.1:${port}/healthz`);
    const remote = await fetch(`http://${external}:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, (e: Error) => (e.cause as { code?: string } | undefined)?.code ?? e.name);

    expect(local.status).toBe(200);
    expect(remote).not.toBe(200);
  });

  it("app.yml subscribes to every event the relay handles", async () => {
    const { readAppYml } = await import("../../src/setup/app-manifest.js");
    // installation events reach every app without a subscription (GitHub rejects them in a manifest).
    const handled = new Set(GITHUB_EVENTS.map((e) => e.split(".")[0]!).filter((e) => !e.startsWith("installation")));

    const subscribed = new Set(readAppYml(join(ROOT, "app.yml")).default_events);

    expect([...handled].filter((e) => !subscribed.has(e))).toEqual([]);
    expect([...subscribed].filter((e) => !handled.has(e))).toEqual([]);
  });
});
