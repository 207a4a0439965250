import { describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { MAP_UPDATED_CHANNEL } from "../../src/map/map-store.js";
import { hellosDependantsMap, hellosDependantsRepos } from "../helpers/history.js";
import { useHarness } from "../helpers/scenario.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * The relay's Redis subscriber connection (the map's update announcements) across Redis restarts:
 * ioredis 5.8.2–5.x could send its handshake (INFO, CLIENT SETINFO) after SUBSCRIBE on the same
 * connection (redis/ioredis#2037), and the relay logged "Connection in subscriber mode, only
 * subscriber commands may be used" or Redis's "Can't execute 'info'" (BENCHMARKS.md). Issue 22:
 * no command but (un)subscribe on a subscriber connection, and nothing of it logged. Alone it
 * passes; with a few copies running at once it failed 4 of 10 runs before the fix (map-store.ts
 * waits for the connection to be ready before SUBSCRIBE): the relay's first SUBSCRIBE overtook
 * ioredis's ready check, Redis refused the check's INFO, and after the next reconnect ioredis never
 * subscribed again, so every later announcement of a new map was lost (only the periodic look took
 * new versions). After the fix: 12 of 12 runs, six at a time.
 */
const startHarness = useHarness();

describe("fault: Redis restarts under the subscriber connection", () => {
  it("three restarts: no command sent on the subscriber connection, nothing of it logged, the connection back each time", async () => {
    const h = await startHarness({ map: hellosDependantsMap(), repos: hellosDependantsRepos() });
    const subscriberTrouble = () => h.logs.filter((l) => /subscriber mode|Can't execute|only \(P\|S\)SUBSCRIBE/i.test(l));

    for (let i = 0; i < 3; i++) {
      h.killRedis();
      await new Promise((r) => setTimeout(r, 300));
      await h.restartRedis();
      const probe = new Redis(h.redisUrl);
      try {
        await waitFor(`the relay subscribed again after restart ${i + 1}`, async () => Number((await probe.pubsub("NUMSUB", MAP_UPDATED_CHANNEL))[1]) >= 1, 15_000);
      } finally {
        probe.disconnect();
      }
    }

    expect(subscriberTrouble()).toEqual([]);
  }, 90_000);
});
