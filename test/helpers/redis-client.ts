import { afterAll, beforeAll } from "@jest/globals";
import { Redis } from "ioredis";
import { startTestRedis, type TestRedis } from "./redis.js";

/** A private Redis for one test file, and a client to it: `redis()` inside the tests. */
export function useTestRedisClient(): () => Redis {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    server = await startTestRedis();
    client = new Redis(server.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.cleanup();
  });
  return () => client!;
}
