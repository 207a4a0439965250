import { Writable } from "node:stream";
import { parseEnv } from "../../src/config/env.js";
import { createLogger } from "../../src/log.js";
import { parseMap } from "../../src/map/load.js";
import { startRelay, type Relay } from "../../src/relay.js";
import { FakeGithub, type FakeRepo } from "../fakes/github/fake-github.js";
import { FakeGitlab, type FakeGitlabOptions } from "../fakes/gitlab/fake-gitlab.js";
import { sendGithubDelivery, type SendOptions } from "./deliveries.js";
import { eventName, githubFixture, type GithubFixture } from "./fixtures.js";
import { waitForIdle, type IdleOptions } from "./idle.js";
import { appPrivateKey } from "./keys.js";
import { restartTestRedis, startTestRedis, type TestRedis } from "./redis.js";
import { mapOptionsOf } from "../../src/map/map-options.js";

export const APP_ID = 4242;
export const WEBHOOK_SECRET = "it's a secret to everybody";

export interface HarnessOptions {
  map: string;
  repos: Record<string, FakeRepo>;
  /** GitLab projects (paths) the fake GitLab knows; a fake GitLab runs only when given */
  gitlabProjects?: string[];
  /** GitLab project → its pipeline trigger token */
  gitlabTriggerTokens?: Record<string, string>;
  /** GitLab project → branch → head commit and files */
  gitlabContents?: FakeGitlabOptions["contents"];
  /** GitLab project → tag → commit (what GET …/repository/tags/:tag_name answers) */
  gitlabTags?: FakeGitlabOptions["tags"];
  /** GitLab project → its visibility (default public) */
  gitlabVisibility?: FakeGitlabOptions["visibility"];
  env?: Record<string, string>;
  /** Redis with every write fsynced to its AOF, so a SIGKILL loses nothing acknowledged (fault tests) */
  durableRedis?: boolean;
  /**
   * A Redis the test started and stops itself (e.g. a cluster: redis+cluster://…); the harness then
   * starts none, and killRedis / restartRedis are not available.
   */
  redisUrl?: string;
}

export const GITLAB_TOKEN = "glpat-test-token";

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** The relay over real HTTP with a private Redis and a fake GitHub, wired as `npm start` wires them. */
export async function startHarness(o: HarnessOptions) {
  let redis: TestRedis | { url: string; cleanup(): Promise<void> } = o.redisUrl
    ? { url: o.redisUrl, cleanup: async () => {} }
    : await startTestRedis({ durable: o.durableRedis });
  const github = await FakeGithub.start({ appId: APP_ID, privateKey: appPrivateKey(), repos: o.repos });
  const gitlab = o.gitlabProjects ? await FakeGitlab.start({ token: GITLAB_TOKEN, projects: o.gitlabProjects, triggerTokens: o.gitlabTriggerTokens, contents: o.gitlabContents, tags: o.gitlabTags, visibility: o.gitlabVisibility }) : undefined;
  const logs: string[] = [];
  const log = createLogger("debug", new Writable({ write: (chunk, _enc, done) => (logs.push(chunk.toString()), done()) }));
  const relays: Relay[] = [];
  /** Starts a relay process-in-miniature on the shared Redis and fake GitHub. */
  const launch = async (env: Record<string, string> = {}) => {
    const config = parseEnv({
    APP_ID: String(APP_ID),
    PRIVATE_KEY: appPrivateKey(),
    WEBHOOK_SECRET,
    GHE_HOST: github.host,
    GHE_PROTOCOL: "http",
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "debug",
    REDIS_URL: redis.url,
    OPENCI_WRITE_INTERVAL_MS: "0",
    // each upstream check state written as it comes, so tests see every one; the settle time has its own tests
    OPENCI_REPORT_SETTLE_MS: "0",
    OPENCI_POLL_INTERVAL_MS: "150",
    // the reconciler lists every upstream's tags: only the tests about it turn it on
    OPENCI_RECONCILE_MS: "0",
    // tests write faster than GitHub's ~80 a minute; the budget has its own tests
    OPENCI_GITHUB_WRITES_PER_MINUTE: "0",
    OPENCI_GITHUB_POINTS_PER_MINUTE: "0",
    ...(gitlab ? { GITLAB_URL: gitlab.url, GITLAB_TOKEN } : {}),
    ...o.env,
    ...env,
    });
    const relay = await startRelay({ config, map: parseMap(o.map, "<map>", mapOptionsOf(config)), localMap: [{ file: "<map>", text: o.map }], redisUrl: redis.url, log: log.child({ relay: relays.length }) });
    relays.push(relay);
    return relay;
  };
  let url: string;
  try {
    url = (await launch()).url!;
  } catch (error) {
    await gitlab?.stop();
    await github.stop();
    await redis.cleanup();
    throw error;
  }
  github.hookTarget = { url: `${url}/api/github/webhooks`, secret: WEBHOOK_SECRET };
  const ownRedis = (): TestRedis => {
    if (!("process" in redis)) throw new Error("the harness did not start this Redis (redisUrl): the test stops and starts it itself");
    return redis;
  };
  return {
    url,
    github,
    gitlab,
    redis,
    logs,
    launch,
    /** Sends a real fixture (optionally changed by `edit`), signed with the app's secret. */
    send: async (fixture: GithubFixture, edit: (p: any) => void = () => {}, opts: Partial<SendOptions> = {}) => {
      const payload = githubFixture(fixture);
      edit(payload);
      const sent = await sendGithubDelivery(url, eventName(fixture), payload, { secret: WEBHOOK_SECRET, ...opts }).catch((error: Error) => {
        if (opts.signature === undefined) github.logDelivery(opts.id ?? "unknown", eventName(fixture), payload, 0);
        throw error;
      });
      // GitHub logs each of its deliveries with the answer it got (what the reconciler's redelivery
      // reads); one sent with a signature of the test's own is a forgery, not GitHub's.
      if (opts.signature === undefined) github.logDelivery(sent.id, eventName(fixture), payload, sent.status);
      return sent;
    },
    /**
     * Waits until the relay is idle (test/helpers/idle.ts): its queues hold no pending job and the
     * fake GitHub, the fake GitLab and `o.watch` (e.g. a subscriber's endpoint) heard nothing for a
     * moment. What a "nothing else happened" assertion must follow.
     */
    idle: (o: IdleOptions = {}) => waitForIdle(redis.url, { ...o, watch: [github, gitlab, ...(o.watch ?? [])] }),
    /** Kills the private Redis with SIGKILL, as a crash would. */
    killRedis: () => ownRedis().process.kill("SIGKILL"),
    /** Starts Redis again on the same port and folder; cleanup then stops this one. */
    restartRedis: async () => {
      redis = await restartTestRedis(ownRedis());
    },
    get redisUrl() {
      return redis.url;
    },
    stop: async () => {
      for (const relay of relays) await relay.stop();
      await github.stop();
      await gitlab?.stop();
      await redis.cleanup();
    },
  };
}
