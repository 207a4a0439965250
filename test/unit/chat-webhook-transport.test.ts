import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import { UnrecoverableError } from "bullmq";
import { createLogger } from "../../src/log.js";
import { ChatWebhookOptions, chatWebhookTransport, type ChatWebhookSink } from "../../src/sinks/transports/chat-webhook.js";
import type { ChatLine } from "../../src/sinks/transport.js";
import { freePort } from "../../src/util/free-port.js";
import { FakeChatWebhooks } from "../fakes/chat-webhooks/fake-chat-webhooks.js";
import { useLoopbackServers } from "../helpers/loopback-server.js";
import { waitFor } from "../helpers/wait-for.js";

let hooks: FakeChatWebhooks;
const logLines: string[] = [];
const log = createLogger("debug", new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));
/** every webhook URL handed out: none may show up in a log line */
const secrets: string[] = [];

beforeAll(async () => {
  hooks = await FakeChatWebhooks.start();
});
afterAll(async () => {
  await hooks.stop();
  expect(hooks.problems).toEqual([]);
  for (const url of secrets) expect(logLines.join("")).not.toContain(new URL(url).pathname);
});

const hook = (format: "slack" | "mattermost" | "discord"): string => {
  const url = format === "slack" ? hooks.slackHook() : format === "mattermost" ? hooks.mattermostHook() : hooks.discordHook();
  secrets.push(url);
  return url;
};
let n = 0;
const line = (text: string): ChatLine => ({ text, html: "", key: `record-${++n}` });
const VAR = "SLACK_WEBHOOK_URL";
const transport = (format: ChatWebhookSink["format"], url: string, o: { timeoutMs?: number } = {}) =>
  chatWebhookTransport({ id: `releases-${format}`, format, url_env: VAR }, { [VAR]: url }, log, o);
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e as Error);
const HOSTILE = "nova 31.0.0 & <!channel> <@U024BE7LH> @channel @here @everyone <@80351110224678912> <@&165511591545143296> > done";

describe("chatWebhookTransport: the bodies", () => {
  it("slack: { text } with &, <, > escaped (no mention survives), unfurling off", async () => {
    const url = hook("slack");
    await transport("slack", url).say(line(HOSTILE));

    const [post] = hooks.postsTo(url);
    expect(post!.body).toEqual({
      text: "nova 31.0.0 &amp; &lt;!channel&gt; &lt;@U024BE7LH&gt; @channel @here @everyone &lt;@80351110224678912&gt; &lt;@&amp;165511591545143296&gt; &gt; done",
      unfurl_links: false, unfurl_media: false,
    });
    expect(post!.pings).toEqual([]);
    const request = hooks.requests.find((r) => r.path === new URL(url).pathname)!;
    expect(request).toMatchObject({ method: "POST", query: "", status: 200 });
    expect(request.headers["content-type"]).toBe("application/json");
  });

  it("mattermost: { text } escaped as for Slack, and its @-mentions broken with a word joiner", async () => {
    const url = hook("mattermost");
    await transport("mattermost", url).say(line(HOSTILE));

    const [post] = hooks.postsTo(url);
    expect(Object.keys(post!.body)).toEqual(["text"]);
    expect(post!.body.text).toBe(
      "nova 31.0.0 &amp; &lt;!channel&gt; &lt;@\u2060U024BE7LH&gt; @\u2060channel @\u2060here @\u2060everyone &lt;@\u206080351110224678912&gt; &lt;@&amp;165511591545143296&gt; &gt; done",
    );
    expect(post!.pings).toEqual([]);
  });

  it("discord: { content, allowed_mentions: { parse: [] } } with wait=true, the text as it is and nobody pinged", async () => {
    const url = hook("discord");
    await transport("discord", url).say(line(HOSTILE));

    const [post] = hooks.postsTo(url);
    expect(post!.body).toEqual({ content: HOSTILE, allowed_mentions: { parse: [] } });
    expect(post!.pings).toEqual([]);
    expect(hooks.requests.find((r) => r.path === new URL(url).pathname)).toMatchObject({ query: "wait=true", status: 200 });
  });

  it("discord: a line over 2000 characters is cut to 2000 (Discord's limit) instead of being refused", async () => {
    const url = hook("discord");
    await transport("discord", url).say(line("é".repeat(2500)));
    const content = hooks.postsTo(url)[0]!.body.content as string;
    expect(Array.from(content)).toHaveLength(2000);
    expect(content.endsWith("…")).toBe(true);
  });

  it("a retried say() posts again: these webhooks take no idempotency key (at least once)", async () => {
    const url = hook("slack");
    const t = transport("slack", url);
    const l = line("nova 31.0.0 passed");
    await t.say(l);
    await t.say(l);
    expect(hooks.postsTo(url)).toHaveLength(2);
  });
});

describe("chatWebhookTransport: rate limits", () => {
  it("slack: a 429 with Retry-After (seconds) is waited out, then the line lands once", async () => {
    const url = hook("slack");
    hooks.rateLimit(url, { retryAfterSeconds: 1 });
    const started = Date.now();
    await transport("slack", url).say(line("nova 31.0.0 passed"));
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(hooks.requests.filter((r) => r.path === new URL(url).pathname).map((r) => r.status)).toEqual([429, 200]);
    expect(hooks.postsTo(url)).toHaveLength(1);
  });

  it("discord: the JSON retry_after (fractions of a second) is honoured rather than the rounded header", async () => {
    const url = hook("discord");
    hooks.rateLimit(url, { times: 2, retryAfterSeconds: 0.2 });
    const started = Date.now();
    await transport("discord", url).say(line("nova 31.0.0 passed"));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(1900);
    expect(hooks.postsTo(url)).toHaveLength(1);
  });

  it("mattermost: a 429 with Retry-After is waited out", async () => {
    const url = hook("mattermost");
    hooks.rateLimit(url, { retryAfterSeconds: 1 });
    await transport("mattermost", url).say(line("nova 31.0.0 passed"));
    expect(hooks.postsTo(url)).toHaveLength(1);
  });

  it("a wait longer than timeoutMs throws at once, for the queue to retry later", async () => {
    const url = hook("slack");
    hooks.rateLimit(url, { retryAfterSeconds: 120 });
    const started = Date.now();
    const e = await failure(transport("slack", url, { timeoutMs: 2000 }).say(line("x")));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(e.message).toBe("subscriber 'releases-slack': the slack webhook is rate limiting the relay and asks to wait 120000 ms, longer than the 2000 ms a line may take: retried later");
    expect(e).not.toBeInstanceOf(UnrecoverableError); // the queue retries it
    expect(hooks.postsTo(url)).toEqual([]);
  });

  it("close() ends a wait in progress", async () => {
    const url = hook("discord");
    hooks.rateLimit(url, { retryAfterSeconds: 10 });
    const t = transport("discord", url);
    const saying = failure(t.say(line("x")));
    const waitsBefore = logLines.filter((l) => l.includes("chat webhook rate limited: waiting")).length;
    // The 429 answered and the transport waiting on it (its log line), not only the request sent:
    // under load, close() could otherwise come before the answer is read.
    await waitFor("the wait for the rate limit", () => logLines.filter((l) => l.includes("chat webhook rate limited: waiting")).length > waitsBefore);
    await t.close();
    expect((await saying).message).toMatch(/closed while waiting out a rate limit/);
  });
});

describe("chatWebhookTransport: refused lines never show the URL", () => {
  const noSecret = (e: Error, url: string) => {
    const u = new URL(url);
    expect(e.message).not.toContain(u.pathname);
    for (const part of u.pathname.split("/").filter((p) => p.length > 8)) expect(e.message).not.toContain(part);
  };

  it("slack: a deleted webhook (404 no_service) says to create a new one and names the variable", async () => {
    const url = hook("slack");
    hooks.remove(url);
    const e = await failure(transport("slack", url).say(line("x")));
    expect(e.message).toBe(
      `subscriber 'releases-slack': the slack webhook in ${VAR} answered 404 (no_service): the webhook does not exist (deleted, or the URL in ${VAR} is mistyped or incomplete): ` +
      `create a new incoming webhook in the Slack app's Incoming Webhooks page and set ${VAR} to its URL`,
    );
    expect(e).toBeInstanceOf(UnrecoverableError); // only a person can make a new webhook: dead-lettered at once
    noSecret(e, url);
  });

  it("discord: an unknown webhook (404 10015) and a wrong token (401 50027) say the same, without the token", async () => {
    const url = hook("discord");
    const wrongToken = url.replace(/\/[^/]+$/, "/bm90LXRoZS10b2tlbg-not-the-token-at-all");
    const e1 = await failure(transport("discord", wrongToken).say(line("x")));
    expect(e1.message).toMatch(/^subscriber 'releases-discord': the discord webhook in SLACK_WEBHOOK_URL answered 401 \(50027 Invalid Webhook Token\): the webhook does not exist/);
    expect(e1).toBeInstanceOf(UnrecoverableError);
    noSecret(e1, wrongToken);
    hooks.remove(url);
    const e2 = await failure(transport("discord", url).say(line("x")));
    expect(e2.message).toMatch(/answered 404 \(10015 Unknown Webhook\): the webhook does not exist .*: create a new incoming webhook in the channel's Integrations settings/);
    expect(e2).toBeInstanceOf(UnrecoverableError);
    noSecret(e2, url);
  });

  it("mattermost: an invalid webhook (400 web.incoming_webhook.invalid.app_error) says the same", async () => {
    const url = hook("mattermost");
    hooks.remove(url);
    const e = await failure(transport("mattermost", url).say(line("x")));
    expect(e.message).toMatch(/answered 400 \(web\.incoming_webhook\.invalid\.app_error Invalid webhook\.\): the webhook does not exist/);
    expect(e).toBeInstanceOf(UnrecoverableError);
    noSecret(e, url);
  });

  it("a URL given in OPENCI_SINKS is named as such, never printed", async () => {
    const url = hook("slack");
    hooks.remove(url);
    const e = await failure(chatWebhookTransport({ id: "ops", format: "slack", url }, {}, log).say(line("x")));
    expect(e.message).toMatch(/^subscriber 'ops': the slack webhook in OPENCI_SINKS \(subscriber 'ops', its url\) answered 404/);
    noSecret(e, url);
  });

  it("a host that does not answer: the failure names the variable, not the URL", async () => {
    const url = `http://127.0.0.1:${await freePort()}/services/T0SECRET01/B0SECRET01/sEcReTsEcReTsEcReTsEcReT`;
    const e = await failure(transport("slack", url).say(line("x")));
    expect(e.message).toMatch(/^subscriber 'releases-slack': posting to the slack webhook in SLACK_WEBHOOK_URL failed: ECONNREFUSED$/);
    expect(e).not.toBeInstanceOf(UnrecoverableError); // a network failure is retried
    noSecret(e, url);
  });

  it("an unset variable, a non-URL and plain http off loopback are refused before anything is sent", async () => {
    const before = hooks.requests.length;
    const say = (env: Record<string, string>) => failure(chatWebhookTransport({ id: "r", format: "slack", url_env: VAR }, env, log).say(line("x")));
    const unset = await say({});
    expect(unset.message).toBe(`subscriber 'r': ${VAR} is not set: set it to the slack incoming-webhook URL`);
    const notUrl = await say({ [VAR]: "hooks.slack.com/services/T1/B1/secretsecret" });
    expect(notUrl.message).toBe(`subscriber 'r': ${VAR} is not a URL: set it to the slack incoming-webhook URL as the service shows it`);
    const plain = await say({ [VAR]: "http://hooks.slack.com/services/T1/B1/secretsecret" });
    expect(plain.message).toBe(`subscriber 'r': ${VAR} must be an https URL (http only on loopback)`);
    for (const e of [unset, notUrl, plain]) expect(e).toBeInstanceOf(UnrecoverableError);
    expect(hooks.requests.length).toBe(before);
  });
});

describe("ChatWebhookOptions", () => {
  const problems = (v: unknown) => {
    const r = ChatWebhookOptions.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("takes a format and the variable holding the URL, each described", () => {
    for (const format of ["slack", "mattermost", "discord"]) expect(problems({ format, url_env: "SLACK_WEBHOOK_URL" })).toEqual([]);
    expect(ChatWebhookOptions.shape.format.description).toMatch(/slack/);
    expect(ChatWebhookOptions.shape.url_env.description).toMatch(/secret/);
  });

  it("refuses a bad format, a URL where the variable's name goes, and a URL in the map", () => {
    expect(problems({ format: "teams", url_env: "X" })).toEqual(['format: must be one of slack, mattermost, discord, e.g. "slack"']);
    expect(problems({ format: "slack", url_env: "https://hooks.slack.com/services/T1/B1/x" })).toEqual(['url_env: must name an environment variable, e.g. "SLACK_WEBHOOK_URL"']);
    const inMap = problems({ format: "slack", url_env: "X", url: "https://hooks.slack.com/services/T1/B1/x" });
    expect(inMap).toEqual([expect.stringMatching(/Unrecognized key.*url/)]);
    expect(inMap.join()).not.toContain("hooks.slack.com");
  });

  it("chatWebhookTransport needs exactly one of url and url_env, and a known format", () => {
    expect(() => chatWebhookTransport({ id: "r", format: "slack" }, {}, log)).toThrow("subscriber 'r' needs exactly one of url_env (the variable holding the webhook URL, e.g. \"SLACK_WEBHOOK_URL\") and url (only in OPENCI_SINKS)");
    expect(() => chatWebhookTransport({ id: "r", format: "slack", url: "https://x.test/h", url_env: VAR }, {}, log)).toThrow(/exactly one of url_env/);
    expect(() => chatWebhookTransport({ id: "r", format: "teams" as "slack", url_env: VAR }, {}, log)).toThrow("subscriber 'r': format must be one of slack, mattermost, discord, e.g. \"slack\"");
    expect(() => chatWebhookTransport({ id: "r", format: "slack" }, {}, log)).toThrow(UnrecoverableError);
    expect(() => chatWebhookTransport({ id: "r", format: "teams" as "slack", url_env: VAR }, {}, log)).toThrow(UnrecoverableError);
  });
});

describe("chatWebhookTransport: what a retry cannot fix is not retried", () => {
  const serve = useLoopbackServers();

  it.each([
    [410, "the channel is archived"],
    [403, "the workspace refuses posts through this webhook"],
    [422, "the service refused the message itself"],
  ])("%i is an UnrecoverableError (dead-lettered at once): %s", async (status, says) => {
    const origin = await serve((_req, res) => res.writeHead(status, { "content-type": "text/plain" }).end("refused"));
    const e = await failure(transport("slack", `${origin}/services/T1/B1/secret`).say(line("x")));
    expect(e.message).toContain(`answered ${status}`);
    expect(e.message).toContain(says);
    expect(e).toBeInstanceOf(UnrecoverableError);
  });

  it.each([500, 503])("%i is a plain error, for the queue to retry with backoff", async (status) => {
    const origin = await serve((_req, res) => res.writeHead(status).end());
    const e = await failure(transport("slack", `${origin}/services/T1/B1/secret`).say(line("x")));
    expect(e.message).toBe(`subscriber 'releases-slack': the slack webhook in ${VAR} answered ${status}: the service failed; retried later`);
    expect(e).not.toBeInstanceOf(UnrecoverableError);
  });
});

describe("the fake webhooks", () => {
  it("refuse undocumented fields and unescaped Slack text, and see the pings a careless sender would cause", async () => {
    const slack = hook("slack");
    const discord = hook("discord");
    const post = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.status);

    expect(await post(slack, { text: "a & b" })).toBe(400);
    expect(await post(slack, { text: "x", icon_emoji: ":ghost:", link_names: 1 })).toBe(400);
    expect(await post(slack, { text: "<!channel> hello" })).toBe(200);
    expect(await post(discord, { content: "@everyone <@80351110224678912>" })).toBe(204);
    expect(await post(discord, { content: "x", allowed_mentions: { parse: ["users"], users: ["1"] } })).toBe(400);
    expect(hooks.problems.splice(0)).toEqual([
      expect.stringMatching(/unescaped &, < or >/),
      expect.stringMatching(/fields icon_emoji, link_names are not documented/),
      expect.stringMatching(/mutually exclusive/),
    ]);
    expect(hooks.postsTo(slack).map((p) => p.pings)).toEqual([["<!channel>"]]);
    // a webhook's default parses user mentions only
    expect(hooks.postsTo(discord).map((p) => p.pings)).toEqual([["<@80351110224678912>"]]);
  });
});
