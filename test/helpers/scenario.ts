import { afterEach, expect } from "@jest/globals";
import { startHarness, type Harness, type HarnessOptions } from "./relay-harness.js";

export { COMMIT, UPSTREAM, upstreamRepo } from "./upstream.js";

/**
 * One relay per test: `start()` inside the test, stopped after it. After each test the fake GitHub
 * must have seen no request that the OpenAPI description rejects.
 */
export function useHarness() {
  let current: Harness | undefined;
  afterEach(async () => {
    const problems = [...(current?.github.problems ?? []), ...(current?.gitlab?.problems ?? [])];
    await current?.stop();
    current = undefined;
    expect(problems).toEqual([]);
  });
  return async (o: HarnessOptions): Promise<Harness> => {
    current = await startHarness(o);
    return current;
  };
}
