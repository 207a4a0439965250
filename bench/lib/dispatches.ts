import type { FakeGithub } from "../../test/fakes/github/fake-github.js";
import { sleep } from "./stats.js";

/** When the fake GitHub received workflow_dispatches (each tag's first, and all), read from its request log as it grows. */
export function dispatchTimes(github: FakeGithub) {
  const first = new Map<string, number>();
  const every: number[] = [];
  let read = 0;
  const update = () => {
    for (; read < github.requests.length; read++) {
      const r = github.requests[read]!;
      const tag = r.operationId === "actions/create-workflow-dispatch" ? (r.body?.inputs?.openci_tag as string | undefined) : undefined;
      if (tag === undefined) continue;
      every.push(r.at);
      if (!first.has(tag)) first.set(tag, r.at);
    }
  };
  return {
    at: (tag: string) => (update(), first.get(tag)),
    /** every dispatch's time, in order of arrival */
    all: () => (update(), every),
    waitFor: async (tags: string[], timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        update();
        if (tags.every((t) => first.has(t))) return;
        await sleep(50);
      }
    },
  };
}
