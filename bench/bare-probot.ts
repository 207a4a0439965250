/**
 * The baselines, each its own process like the relay's: a bare Probot app on the same machine.
 *   BARE_ROLE=ingest  Probot's Server with a no-op `push` handler (the ingest baseline)
 *   BARE_ROLE=web     the same, its handler adding one BullMQ job per tag (the end-to-end baseline's web half)
 *   BARE_ROLE=worker  a BullMQ worker that dispatches each job's workflow through Probot's Octokit (its other half)
 *   BARE_ROLE=reporter a BullMQ worker (queue "bare-report") that creates each job's check run through Probot's
 *                     Octokit, with the body in the job (the baseline of the relay's check syncs)
 * Env: APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, PORT, GHE_HOST (http), REDIS_URL, INSTALLATION_ID, DOWNSTREAM (owner/repo),
 *      UPSTREAM (owner/repo, reporter).
 */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { Probot, ProbotOctokit, Server } from "probot";

const env = (name: string) => process.env[name] ?? "";
const role = env("BARE_ROLE");
const QUEUE = "bare";
const PREFIX = "{bare}";
const log = pino({ level: "warn" });
const BareProbot = Probot.defaults({
  appId: env("APP_ID"),
  privateKey: env("PRIVATE_KEY"),
  secret: env("WEBHOOK_SECRET"),
  baseUrl: `http://${env("GHE_HOST")}/api/v3`,
  // as the relay (src/forge/github-octokit.ts): no in-process throttling (its write group spaces
  // writes 1 s apart) nor retries; a function, to apply after the options Probot sets per client
  Octokit: ProbotOctokit.defaults((options: Record<string, unknown>) => ({
    ...options, throttle: { ...(options.throttle as object | undefined), enabled: false }, retry: { enabled: false },
  })),
  log,
});
const closers: (() => Promise<unknown>)[] = [];

if (role === "ingest" || role === "web") {
  const queue = role === "web" ? new Queue(QUEUE, { connection: new Redis(env("REDIS_URL"), { maxRetriesPerRequest: null }), prefix: PREFIX }) : undefined;
  const server = new Server({ Probot: BareProbot, port: Number(env("PORT")), host: "127.0.0.1", log, enableStaticFiles: false });
  await server.load((app) => {
    app.on("push", async (context) => {
      await queue?.add("tag", { tag: context.payload.ref.replace(/^refs\/tags\//, "") }, { jobId: `bare-${context.id}`, removeOnComplete: true });
    });
  });
  await server.start();
  closers.push(() => server.stop());
  if (queue) closers.push(() => queue.close());
} else if (role === "worker") {
  const probot = new BareProbot();
  const [owner, repo] = env("DOWNSTREAM").split("/") as [string, string];
  const worker = new Worker<{ tag: string }>(
    QUEUE,
    async (job) => {
      const octokit = await probot.auth(Number(env("INSTALLATION_ID")));
      await octokit.request("POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", {
        owner, repo, workflow_id: "ci.yml", ref: "main", inputs: { openci_tag: job.data.tag },
      });
    },
    { connection: new Redis(env("REDIS_URL"), { maxRetriesPerRequest: null }), prefix: PREFIX, concurrency: 16 },
  );
  worker.on("error", (err) => log.error({ err }, "worker error"));
  closers.push(() => worker.close());
} else if (role === "reporter") {
  const probot = new BareProbot();
  const [owner, repo] = env("UPSTREAM").split("/") as [string, string];
  const worker = new Worker<{ body: Record<string, unknown> }>(
    "bare-report",
    async (job) => {
      const octokit = await probot.auth(Number(env("INSTALLATION_ID")));
      await octokit.request("POST /repos/{owner}/{repo}/check-runs", { owner, repo, ...(job.data.body as { name: string; head_sha: string }) });
    },
    { connection: new Redis(env("REDIS_URL"), { maxRetriesPerRequest: null }), prefix: PREFIX, concurrency: 16 },
  );
  worker.on("error", (err) => log.error({ err }, "worker error"));
  closers.push(() => worker.close());
} else {
  throw new Error(`BARE_ROLE must be ingest, web, worker or reporter, not '${role}'`);
}

process.once("SIGTERM", () => void Promise.all(closers.map((c) => c().catch(() => undefined))).then(() => process.exit(0)));
