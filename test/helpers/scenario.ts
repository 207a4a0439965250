import { afterEach, expect } from "@jest/globals";
import type { FakeRepo } from "../fakes/github/fake-github.js";
import { startHarness, type Harness, type HarnessOptions } from "./relay-harness.js";

/** The repository and commit of the real @octokit/webhooks-examples tag payloads. */
export const UPSTREAM = "Codertocat/Hello-World";
export const COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";

/** The fixtures' upstream, installed as installation 1, with `simple-tag` on COMMIT. */
export const upstreamRepo = (): FakeRepo => ({ installationId: 1, tags: { "simple-tag": { type: "commit", sha: COMMIT } } });

/**
 * One relay per test: `start()` inside the test, stopped after it. After each test the fake GitHub
 * must have seen no request that the OpenAPI description rejects.
 */
export function useHarness() {
  let current: Harness | undefined;
  afterEach(async () => {
    const problems = current?.github.problems ?? [];
    await current?.stop();
    current = undefined;
    expect(problems).toEqual([]);
  });
  return async (o: HarnessOptions): Promise<Harness> => {
    current = await startHarness(o);
    return current;
  };
}
