import { Queue, type JobType } from "bullmq";
import { KEY_PREFIX, QUEUES } from "../../src/queue/names.js";
import { createRedis } from "../../src/redis/connection.js";

type QueueKey = keyof typeof QUEUES;

/** Jobs a test expects to stay scheduled (or to keep running) while the rest of the relay is idle. */
export interface Ignored {
  queue: QueueKey;
  /** the job's name, as the relay adds it (e.g. "poll", "reconcile"); none: every job of the queue */
  name?: string;
  /** why this test expects it there: said at the call, not hidden in the helper */
  why: string;
  /** the fakes' operations that job makes (GitHub operationId, GitLab doc name): not counted as activity */
  requests?: string[];
}

/** What receives the relay's requests: a fake forge (`requests`), a subscriber's endpoint (`deliveries`), or a count. */
export type Listener = { requests: readonly object[] } | { deliveries: readonly unknown[] } | (() => number);

export interface IdleOptions {
  /** the fakes and endpoints that must be quiet */
  watch?: (Listener | undefined)[];
  /** jobs disregarded in every state, each with the test's reason (see Ignored) */
  ignore?: Ignored[];
  /** how long the fakes must hear nothing, between two consecutive idle checks (ms) */
  quietMs?: number;
  timeoutMs?: number;
}

const PENDING: JobType[] = ["waiting", "active", "prioritized", "waiting-children"];

/**
 * A run's timeout is scheduled with every trigger (6 h by default, src/map/duration.ts): it may
 * stay scheduled as long as it is due after this wait ends. One due before (a test that shortens
 * it) is waited for like any other job.
 */
const RUN_TIMEOUT = { queue: "trigger", name: "timeout" } as const;

/**
 * Waits until the relay is idle: no queue of the relay (src/queue/names.ts) holds a waiting, active,
 * prioritised or waiting-children job, nor a delayed one due within `timeoutMs`, and the watched
 * fakes received no request in between two such checks `quietMs` apart. For "nothing else happened".
 *
 * A delayed job due further away (a retry's long backoff, a rate-limit hold, a periodic job's next
 * run) fails the wait at once unless the test names it in `ignore` with its reason: a wait that
 * cannot see what comes later must not pass for one that did. Run timeouts are the one exception
 * (RUN_TIMEOUT above). A job that keeps coming back (a poll every 150 ms of a run that never ends)
 * keeps the relay busy until the wait times out, naming it.
 */
export async function waitForIdle(redisUrl: string, o: IdleOptions = {}): Promise<void> {
  const quietMs = o.quietMs ?? 200;
  const timeoutMs = o.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const ignored = o.ignore ?? [];
  const skippedRequests = new Set(ignored.flatMap((e) => e.requests ?? []));
  const connection = createRedis(redisUrl, "worker");
  const queues = (Object.keys(QUEUES) as QueueKey[]).map((key) => ({ key, queue: new Queue(QUEUES[key], { connection, prefix: KEY_PREFIX }) }));
  const isIgnored = (queue: QueueKey, name: string) => ignored.some((e) => e.queue === queue && (e.name === undefined || e.name === name));
  const heard = () => (o.watch ?? []).reduce((n, l) => n + (l ? countOf(l, skippedRequests) : 0), 0);

  /** What still keeps the relay busy, as "queue/name (state)". */
  const busy = async (): Promise<string[]> => {
    const found: string[] = [];
    for (const { key, queue } of queues) {
      for (const job of await queue.getJobs(PENDING)) {
        if (job && !isIgnored(key, job.name)) found.push(`${key}/${job.name} ${job.id} (${await job.getState()})`);
      }
      const delayed = await connection.zrange(queue.toKey("delayed"), 0, -1, "WITHSCORES");
      for (let i = 0; i < delayed.length; i += 2) {
        const id = delayed[i]!;
        const dueAt = Math.floor(Number(delayed[i + 1]) / 0x1000);
        const name = (await queue.getJob(id))?.name ?? "?";
        if (isIgnored(key, name)) continue;
        if (dueAt <= Date.now() + timeoutMs) {
          found.push(`${key}/${name} ${id} (delayed, due in ${dueAt - Date.now()} ms)`);
        } else if (!(key === RUN_TIMEOUT.queue && name === RUN_TIMEOUT.name)) {
          throw new Error(
            `idle: ${key}/${name} ${id} is delayed until ${Math.round((dueAt - Date.now()) / 1000)} s from now, later than a wait can see: ` +
            `name it in \`ignore\` with the reason the test expects it scheduled, or wait for it`,
          );
        }
      }
    }
    return found;
  };

  try {
    let previous: number | undefined;
    for (;;) {
      const pending = await busy();
      const requests = heard();
      if (pending.length === 0 && previous === requests) return;
      if (Date.now() > deadline) {
        throw new Error(`relay not idle after ${timeoutMs} ms: ${pending.length > 0 ? pending.join(", ") : `the fakes still receive requests (the last: ${lastRequests(o.watch ?? []).join(", ")})`}`);
      }
      previous = pending.length === 0 ? requests : undefined;
      await new Promise((r) => setTimeout(r, pending.length === 0 ? quietMs : 25));
    }
  } finally {
    await Promise.all(queues.map(({ queue }) => queue.close()));
    connection.disconnect();
  }
}

function countOf(l: Listener, skipped: Set<string>): number {
  if (typeof l === "function") return l();
  if ("deliveries" in l) return l.deliveries.length;
  if (skipped.size === 0) return l.requests.length;
  return l.requests.filter((r) => {
    const { operationId, doc } = r as { operationId?: string; doc?: string };
    return !skipped.has(operationId ?? doc ?? "");
  }).length;
}

/** The latest requests the fakes received, by name, for the error message. */
function lastRequests(watch: (Listener | undefined)[]): string[] {
  return watch.flatMap((l) => (l && typeof l === "object" && "requests" in l ? l.requests.slice(-5) : [])).map((r) => {
    const { operationId, doc, method, path } = r as { operationId?: string; doc?: string; method?: string; path?: string };
    return operationId ?? doc ?? `${method} ${path}`;
  });
}
