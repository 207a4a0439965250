import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { FakeGithub } from "../fakes/github/fake-github.js";
import { githubDeliveryHeaders } from "../helpers/deliveries.js";
import { githubFixture } from "../helpers/fixtures.js";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { relayProcessEnv, spawnRelay, type SpawnedRelay } from "../helpers/spawn-relay.js";
import { acmeAppRepo, upstreamRepo } from "../helpers/upstream.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * A webhook proxy channel as smee.io serves one (server-sent events on GET /<channel>): a `ready`
 * event on connect, then one message per delivery whose data is the delivery's headers (lower-case)
 * with its parsed `body`, its `query` and a `timestamp`, which smee-client posts on to its target.
 */
class SmeeChannel {
  readonly listeners: ServerResponse[] = [];
  private constructor(private readonly server: Server, readonly path: string) {}

  static async start(path: string): Promise<SmeeChannel> {
    let channel: SmeeChannel | undefined;
    const server = createServer((req, res) => {
      if (req.method !== "GET" || req.url !== path) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      res.write("event: ready\ndata: {}\n\n");
      channel!.listeners.push(res);
    });
    channel = new SmeeChannel(server, path);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return channel;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`;
  }

  send(headers: Record<string, string>, body: unknown, id: number): void {
    const data = JSON.stringify({ ...headers, host: "smee.io", body, query: {}, timestamp: Date.now() });
    for (const l of this.listeners) l.write(`id: ${id}\ndata: ${data}\n\n`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let channel: SmeeChannel | undefined;
let github: FakeGithub | undefined;
let redis: TestRedis | undefined;
let relay: SpawnedRelay | undefined;
afterEach(async () => {
  relay?.child.kill("SIGKILL");
  await channel?.stop();
  await github?.stop();
  await redis?.cleanup();
});

describe("WEBHOOK_PROXY_URL", () => {
  it("forwards a delivery from the proxy channel to the relay, which relays the tag as if GitHub had posted it", async () => {
    channel = await SmeeChannel.start("/Xq7openciChannel");
    github = await FakeGithub.start({ appId: 7, privateKey: appPrivateKey(), repos: { "Codertocat/Hello-World": upstreamRepo(), "acme/app": acmeAppRepo() } });
    redis = await startTestRedis();
    const dir = mkdtempSync(join(tmpdir(), "openci-proxy-"));
    writeFileSync(join(dir, "openci-map.yml"),
      "projects:\n  - id: hello\n    github: Codertocat/Hello-World\n  - id: acme/app\n    github: acme/app\n    trigger: { workflow: ci.yml, ref: main }\n    depends_on: [{ project: hello }]\n");
    relay = spawnRelay({
      ...relayProcessEnv({ appId: 7, privateKey: appPrivateKey(), secret: "s3cret", githubHost: github.host, redisUrl: redis.url }),
      PORT: "0", WEBHOOK_PROXY_URL: channel.url,
    }, dir);
    await waitFor("the relay to follow the channel", () => channel!.listeners.length === 1, 30_000);
    const payload = githubFixture("push.tag");

    channel.send(githubDeliveryHeaders("push", JSON.stringify(payload), { secret: "s3cret", id: "proxied-delivery-1" }), payload, 1);
    // the relay writes the downstream's check and the roll-up, and dispatches, in whichever order a busy machine lets it
    const check = await waitFor("the downstream's check on the upstream's commit", () => github!.checkRuns.find((c) => c.name === "openci: acme/app"), 20_000);
    await waitFor("the downstream's dispatch", () => github!.calls("actions/create-workflow-dispatch").length > 0, 20_000);

    expect(github.calls("actions/create-workflow-dispatch")).toHaveLength(1);
    expect(check).toMatchObject({ repo: "Codertocat/Hello-World", name: "openci: acme/app" });
    expect(relay.output().stdout).toContain("forwarding deliveries from the webhook proxy channel");
    expect(relay.output().stdout).not.toContain("Xq7openciChannel");
    expect(github.problems).toEqual([]);
  });
});
