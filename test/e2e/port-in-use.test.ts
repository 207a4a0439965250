import { createServer, type Server } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "@jest/globals";
import { appPrivateKey } from "../helpers/keys.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { ROOT, runRelay } from "../helpers/spawn-relay.js";

let taken: Server | undefined;
let redis: TestRedis | undefined;
afterEach(async () => {
  await new Promise((r) => (taken ? taken.close(r) : r(undefined)));
  await redis?.cleanup();
  redis = undefined;
});

describe("a port already in use", () => {
  it.each([
    ["the relay", true],
    ["the setup page (no GitHub App yet)", false],
  ])("stops %s with one line naming PORT, not a stack trace", async (_what, withApp) => {
    taken = createServer();
    await new Promise<void>((r) => taken!.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as { port: number }).port;
    redis = withApp ? await startTestRedis() : undefined;
    const app: Record<string, string> = redis ? { APP_ID: "1", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s", REDIS_URL: redis.url, OPENCI_MAP: join(ROOT, "openci-map.yml"), OPENCI_RECONCILE_MS: "0" } : {};
    const dir = mkdtempSync(join(tmpdir(), "openci-port-"));

    const r = await runRelay({ ...app, PORT: String(port), HOST: "127.0.0.1", OPENCI_PUBLIC_URL: "https://relay.example.org", LOG_LEVEL: "error" }, withApp ? ROOT : dir);

    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      `port ${port} on 127.0.0.1 is already in use (another relay or program listens there): set PORT to a free port, e.g. PORT=3001 npm start, or stop the other program.`,
    ]);
  });
});
