import { UnrecoverableError } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JsMsg, type StreamConfig } from "@nats-io/jetstream";
import { pino } from "pino";
import { z } from "zod";
import { block } from "../../src/history/cid.js";
import { toCDEvent } from "../../src/history/cdevent.js";
import { structuredJson } from "../../src/history/cloudevent.js";
import type { HistoryRecord } from "../../src/history/record.js";
import { NATS_DEFAULT_SUBJECT, NatsOptions, natsTransport, natsUrlProblem, type NatsSink } from "../../src/sinks/transports/nats.js";
import type { SinkMessage, TopicNames } from "../../src/sinks/transport.js";
import { startNatsServer, type TestNatsServer } from "../helpers/nats-server.js";
import { closedAfterEach, memoryLog } from "../helpers/transport-fixtures.js";
import { waitFor } from "../helpers/wait-for.js";

/** A history record's event as the sinks worker hands it to a transport (attributes as the CloudEvent has them). */
async function sinkMessage(tag: string, names: Partial<TopicNames> = {}, attributes: Record<string, string> = {}): Promise<SinkMessage> {
  const record = {
    v: 1, kind: "release", at: "2026-12-01T10:00:00.000Z", project: "nova", forge: "github", repo: "openstack/nova", tag,
    sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", source: "create", artifacts: [],
  } as unknown as HistoryRecord;
  const cid = (await block(record)).cid.toString();
  const event = toCDEvent(cid, record, "https://openci.example.org");
  return {
    cid, event, body: JSON.stringify(event), structured: structuredJson(event),
    attributes: {
      specversion: "1.0", id: event.context.id, source: event.context.source, type: event.context.type,
      subject: event.subject.id, time: event.context.timestamp, datacontenttype: "application/json", ...attributes,
    },
    names: { foundation: "cncf", project: "nova", event: "artifact.published", ...names },
  };
}

const servers: TestNatsServer[] = [];
const natsTransportClosed = closedAfterEach(natsTransport);
const clients: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function server(o: Parameters<typeof startNatsServer>[0] = {}) {
  const s = await startNatsServer(o);
  servers.push(s);
  return s;
}

function transport(sink: Partial<NatsSink> & { url: string }, env: NodeJS.ProcessEnv = {}, timeoutMs = 3000) {
  const logs = memoryLog();
  const t = natsTransportClosed({ id: "cncf-bus", ...sink }, env, logs.log, { timeoutMs });
  return { t, ...logs };
}

/** The test's own JetStream client (as a subscriber would be). */
async function client(s: TestNatsServer, auth: { token?: string } = {}) {
  const nc = await connect({ servers: `127.0.0.1:${s.port}`, ...auth });
  clients.push(nc);
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

/** Every message of `stream`, read with an ordered consumer of the test's own. */
async function readStream(s: TestNatsServer, stream: string): Promise<JsMsg[]> {
  const { js, jsm } = await client(s);
  const count = (await jsm.streams.info(stream)).state.messages;
  const consumer = await js.consumers.get(stream);
  const messages: JsMsg[] = [];
  while (messages.length < count) {
    const m = await consumer.next({ expires: 5000 });
    if (!m) throw new Error(`stream ${stream} holds ${count} messages but the consumer got ${messages.length}`);
    messages.push(m);
  }
  return messages;
}

describe("the NATS JetStream transport against a private nats-server", () => {
  let nats: TestNatsServer;
  beforeAll(async () => {
    nats = await server();
  });

  it("publishes the CDEvent as the payload with ce- headers (CloudEvents NATS binary mode) and the CID as Nats-Msg-Id", async () => {
    const { t } = transport({ url: nats.url, subject: "bin.{foundation}.{project}.{event}", stream: "BIN" });
    const message = await sinkMessage("29.0.1", {}, { subject: `nova 29.0.1 "€%` });

    await t.publish(message);

    const [m, ...more] = await readStream(nats, "BIN");
    expect(more).toHaveLength(0);
    expect(m!.subject).toBe("bin.cncf.nova.artifact.published");
    expect(m!.string()).toBe(message.body);
    expect(JSON.parse(m!.string())).toEqual(message.event);
    const h = m!.headers!;
    expect(h.get("Nats-Msg-Id")).toBe(message.cid);
    expect(h.get("ce-specversion")).toBe("1.0");
    expect(h.get("ce-id")).toBe(message.cid);
    expect(h.get("ce-source")).toBe("https://openci.example.org");
    expect(h.get("ce-type")).toBe(message.event.context.type);
    expect(h.get("ce-time")).toBe(message.event.context.timestamp);
    expect(h.get("ce-datacontenttype")).toBe("application/json");
    // space, '"', '%' and non-ASCII percent-encoded (UTF-8, upper-case hex), as the binding says
    expect(h.get("ce-subject")).toBe("nova%2029.0.1%20%22%E2%82%AC%25");
    // no Content-Type: application/cloudevents, which would mean structured mode
    expect(h.has("Content-Type")).toBe(false);
    expect([...h.keys()].filter((k) => k.startsWith("ce-")).sort()).toEqual(
      ["ce-datacontenttype", "ce-id", "ce-source", "ce-specversion", "ce-subject", "ce-time", "ce-type"]);
  });

  it("fills the subject template, a name's '.', '*', '>', white space and control characters becoming '_'", async () => {
    const { t } = transport({ url: nats.url, subject: "tpl.ci-{project}.{event}.{foundation}", stream: "TPL" });

    await t.publish(await sinkMessage("1", { foundation: "cn.cf", project: "a*b>c d\te\u0001f", event: "pipelinerun.finished" }));
    await t.publish(await sinkMessage("2", { foundation: "", project: "nova" }));

    const subjects = (await readStream(nats, "TPL")).map((m) => m.subject);
    expect(subjects).toEqual(["tpl.ci-a_b_c_d_e_f.pipelinerun.finished.cn_cf", "tpl.ci-nova.artifact.published._"]);
  });

  it("the default subject is openci.{foundation}.{project}.{event}", async () => {
    const s = await server();
    const { t } = transport({ url: s.url });

    await t.publish(await sinkMessage("1", { foundation: "_", project: "kolla", event: "pipelinerun.queued" }));

    expect(NATS_DEFAULT_SUBJECT).toBe("openci.{foundation}.{project}.{event}");
    expect((await readStream(s, "OPENCI")).map((m) => m.subject)).toEqual(["openci._.kolla.pipelinerun.queued"]);
  });

  it("publishing the same CID twice stores one message: the second PubAck says duplicate (a forced redelivery is dropped by its msgID)", async () => {
    const { t, said } = transport({ url: nats.url, subject: "dup.{project}.{event}", stream: "DUP" });
    const message = await sinkMessage("1");

    await t.publish(message);
    await t.publish(message);
    await t.publish({ ...message, body: JSON.stringify({ ...message.event, changed: true }) });

    const stored = await readStream(nats, "DUP");
    expect(stored).toHaveLength(1);
    expect(stored[0]!.string()).toBe(message.body);
    expect(said(/already had this event/).map((l) => [l.cid, l.seq])).toEqual([[message.cid, 1], [message.cid, 1]]);
    expect(said(/event published to NATS/)).toHaveLength(1);
  });

  it("creates the stream once, with '<first token>.>', file storage and a one-hour duplicate window, and says so", async () => {
    const s = await server();
    const first = transport({ url: s.url, subject: "made.{foundation}.{project}.{event}", stream: "MADE" });

    await Promise.all([
      first.t.publish(await sinkMessage("1", { project: "nova" })),
      first.t.publish(await sinkMessage("2", { project: "kolla" })),
      first.t.publish(await sinkMessage("3", { project: "cinder" })),
    ]);
    await first.t.publish(await sinkMessage("4", { project: "nova" }));
    const second = transport({ url: s.url, subject: "made.{foundation}.{project}.{event}", stream: "MADE" });
    await second.t.publish(await sinkMessage("5", { project: "glance" }));

    const { jsm } = await client(s);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names).toEqual(["MADE"]);
    const info = await jsm.streams.info("MADE");
    expect(info.config.subjects).toEqual(["made.>"]);
    expect(info.config.storage).toBe("file");
    // an hour, set explicitly (JetStream's own default is two minutes)
    expect(info.config.duplicate_window).toBe(60 * 60 * 1e9);
    expect(info.state.messages).toBe(5);
    expect(first.said(/created JetStream stream/).map((l) => l.msg)).toEqual(["created JetStream stream MADE for made.> (file storage, one-hour duplicate window)"]);
    expect(second.said(/created JetStream stream/)).toHaveLength(0);
  });

  it("leaves an existing stream that captures the subject as it is", async () => {
    const s = await server();
    const { jsm } = await client(s);
    const mine: Partial<StreamConfig> & { name: string } = { name: "MINE", subjects: ["openci.cncf.>", "elsewhere.>"], max_msgs: 1000, duplicate_window: 300e9 };
    const before = (await jsm.streams.add(mine)).config;
    const { t, said } = transport({ url: s.url });

    await t.publish(await sinkMessage("1"));

    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names).toEqual(["MINE"]);
    const after = await jsm.streams.info("MINE");
    expect(after.config).toEqual(before);
    expect(after.state.messages).toBe(1);
    expect(said(/created JetStream stream/)).toHaveLength(0);
  });

  it("says what to do when no stream captures the subject and the stream's name is taken", async () => {
    const s = await server();
    const { jsm } = await client(s);
    await jsm.streams.add({ name: "OPENCI", subjects: ["other.>"] });
    const { t } = transport({ url: s.url });

    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow(
      /no JetStream stream captures openci\.cncf\.nova\.artifact\.published and creating OPENCI for openci\.> failed \(.+\): add openci\.> to a stream's subjects, or set the subscriber's stream option/);
    expect((await jsm.streams.info("OPENCI")).config.subjects).toEqual(["other.>"]);
  });

  it("opens the connection again after close()", async () => {
    const { t } = transport({ url: nats.url, subject: "again.{project}", stream: "AGAIN" });
    await t.publish(await sinkMessage("1"));
    await t.close();

    await t.publish(await sinkMessage("2"));

    expect(await readStream(nats, "AGAIN")).toHaveLength(2);
  });

  it("tls:// insists on TLS: a server without it is refused clearly", async () => {
    const { t } = transport({ url: nats.url.replace("nats://", "tls://") });

    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow(/^NATS tls:\/\/127\.0\.0\.1:\d+ offers no TLS: use nats:\/\/ or turn TLS on at the server$/);
  });
});

describe("NATS credentials", () => {
  const TOKEN = "t0ken-for-the-bus-7f3a";
  let nats: TestNatsServer;
  let users: TestNatsServer;
  beforeAll(async () => {
    [nats, users] = await Promise.all([server({ token: TOKEN }), server({ user: "relay", password: "pa55-w0rd-9c1e" })]);
  });

  it("connects with the token token_env names", async () => {
    const { t } = transport({ url: nats.url, token_env: "BUS_TOKEN" }, { BUS_TOKEN: TOKEN });

    await t.publish(await sinkMessage("1"));

    const { jsm } = await client(nats, { token: TOKEN });
    expect((await jsm.streams.info("OPENCI")).state.messages).toBe(1);
  });

  it("connects with the user and password username_env and password_env name", async () => {
    const { t } = transport({ url: users.url, username_env: "BUS_USER", password_env: "BUS_PASSWORD" }, { BUS_USER: "relay", BUS_PASSWORD: "pa55-w0rd-9c1e" });

    await expect(t.publish(await sinkMessage("1"))).resolves.toBeUndefined();
  });

  it("a token variable that is not set is refused, naming the variable", async () => {
    const { t } = transport({ url: nats.url, token_env: "BUS_TOKEN" }, { OTHER: TOKEN });

    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow("subscriber 'cncf-bus': BUS_TOKEN (its token_env) is not set: set it to the NATS server's token");
    // Only a person can set it: the sinks queue dead-letters the event at once instead of retrying.
    await expect(t.publish(await sinkMessage("1"))).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it("a wrong token is refused, naming the variable and never its value", async () => {
    const { t } = transport({ url: nats.url, token_env: "BUS_TOKEN" }, { BUS_TOKEN: "not-the-right-token-55" });

    const error = await t.publish(await sinkMessage("1")).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^NATS nats:\/\/127\.0\.0\.1:\d+ refused the credentials in BUS_TOKEN: check their values$/);
    expect((error as Error).message).not.toContain("not-the-right-token");
  });

  it("a wrong password is refused without saying it", async () => {
    const { t, lines } = transport({ url: users.url, username_env: "BUS_USER", password_env: "BUS_PASSWORD" }, { BUS_USER: "relay", BUS_PASSWORD: "guess-guess-11" });

    const error = (await t.publish(await sinkMessage("1")).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/refused the credentials in BUS_USER and BUS_PASSWORD: check their values$/);
    expect(error.message + JSON.stringify(lines)).not.toContain("guess-guess");
  });

  it("a server that wants credentials, given none, says which options to set", async () => {
    const { t } = transport({ url: nats.url });

    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow(/wants credentials: set token_env \(or username_env and password_env\) on subscriber 'cncf-bus'$/);
  });

  it("never reads the relay's own variables, whatever a merged schema let through", async () => {
    const { t } = transport({ url: nats.url, token_env: "OPENCI_SECRET" }, { OPENCI_SECRET: TOKEN });

    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow(/OPENCI_SECRET \(its token_env\) is not set/);
  });
});

describe("a NATS server killed mid-stream", () => {
  it("publishes during the outage reject within the timeout; after the restart publishing resumes and what was acked before is dropped as a duplicate", async () => {
    const nats = await server();
    const { t, said } = transport({ url: nats.url }, {}, 1500);
    const acked = await Promise.all(["1", "2", "3"].map((tag) => sinkMessage(tag)));
    for (const m of acked) await t.publish(m);

    await nats.kill();
    for (const tag of ["4", "5"]) {
      const started = Date.now();
      await expect(t.publish(await sinkMessage(tag))).rejects.toThrow(/^NATS nats:\/\/127\.0\.0\.1:\d+: no JetStream ack for \S+ on openci\.cncf\.nova\.artifact\.published within 1500 ms: is the server up and reachable\?$/);
      expect(Date.now() - started).toBeLessThan(2500);
    }
    await waitFor("the client to notice the server is gone", () => said(/connection lost/).length > 0);

    await nats.restart();
    const after = await sinkMessage("6");
    await waitFor("publishing to resume after the restart", () => t.publish(after).then(() => true, () => false), 10_000);
    for (const m of acked) await t.publish(m);

    const stored = await readStream(nats, "OPENCI");
    const ids = stored.map((m) => m.headers!.get("Nats-Msg-Id"));
    // 1-3 survived the kill (file storage); 4 and 5, buffered by the client while it reconnected, may land after the restart: nothing twice
    expect(ids.slice(0, 3)).toEqual(acked.map((m) => m.cid));
    expect(ids).toContain(after.cid);
    expect(new Set(ids).size).toBe(ids.length);
    expect(said(/already had this event/).map((l) => l.cid)).toEqual(expect.arrayContaining(acked.map((m) => m.cid)));
    expect(said(/reconnected/).length).toBeGreaterThan(0);
  });

  it("a server that is down when the first event comes is refused at once, saying it cannot connect", async () => {
    const nats = await server();
    await nats.kill();
    const { t } = transport({ url: nats.url }, {}, 1500);

    const started = Date.now();
    await expect(t.publish(await sinkMessage("1"))).rejects.toThrow(/^NATS nats:\/\/127\.0\.0\.1:\d+: cannot connect: .*refused/);
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe("NATS subscriber options", () => {
  const problems = (options: unknown) => {
    const parsed = NatsOptions.safeParse(options);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("accepts a subscriber's options as documented", () => {
    expect(problems({ subject: "openci.{foundation}.{project}.{event}", stream: "OPENCI", token_env: "BUS_TOKEN" })).toEqual([]);
    expect(problems({ subject: "ci.x-{project}.{event}", username_env: "BUS_USER", password_env: "BUS_PASSWORD" })).toEqual([]);
    expect(problems({})).toEqual([]);
  });

  it.each([
    ["a '*' wildcard", "openci.*.{project}", /subject: must not contain the wildcards '\*' or '>'.*e\.g\. openci\.\{foundation\}\.\{project\}\.\{event\}/],
    ["a '>' wildcard", "openci.>", /subject: must not contain the wildcards/],
    ["white space", "openci.{project} x", /subject: must not contain white space or control characters, e\.g\./],
    ["a control character", "openci.\u0007", /subject: must not contain white space or control characters/],
    ["an empty token", "openci..{project}", /subject: has an empty token \(a leading, trailing or doubled '\.'\), e\.g\./],
    ["a trailing dot", "openci.{project}.", /subject: has an empty token/],
    ["an unknown name", "openci.{repo}.{event}", /subject: names \{repo\}; the only names are \{foundation\}, \{project\} and \{event\}, e\.g\./],
    ["an unmatched brace", "openci.{project", /subject: has an unmatched '\{' or '\}'/],
    ["a name as the first token", "{foundation}.{project}", /subject: must start with a fixed token/],
    ["a system subject", "$JS.{project}", /subject: must start with a fixed token \(not a \{name\}, not a '\$' system subject\)/],
    ["a single token", "openci", /subject: needs at least two tokens/],
    ["an empty template", "", /subject: must not be empty/],
  ])("refuses a subject with %s", (_what, subject, message) => {
    expect(problems({ subject })).toEqual([expect.stringMatching(message)]);
  });

  it("refuses a bad stream name, bad variable names and the relay's own variables", () => {
    expect(problems({ stream: "my stream" })).toEqual([expect.stringMatching(/^stream: must be a JetStream stream name .*e\.g\. OPENCI$/)]);
    expect(problems({ token_env: "bus_token" })).toEqual([expect.stringMatching(/^token_env: must name an environment variable .*e\.g\. BUS_TOKEN$/)]);
    expect(problems({ token_env: "PRIVATE_KEY" })).toEqual([expect.stringMatching(/^token_env: names the relay's own configuration: put the token in a variable of its own, e\.g\. BUS_TOKEN$/)]);
    expect(problems({ username_env: "OPENCI_USER", password_env: "BUS_PASSWORD" })).toEqual([expect.stringMatching(/^username_env: names the relay's own configuration/)]);
  });

  it("refuses a token with a user and password, a user without a password, and options it does not know", () => {
    expect(problems({ token_env: "BUS_TOKEN", username_env: "BUS_USER", password_env: "BUS_PASSWORD" }))
      .toEqual(["token_env: give either token_env or username_env and password_env, not both: e.g. token_env: BUS_TOKEN"]);
    expect(problems({ username_env: "BUS_USER" })).toEqual(["username_env: username_env and password_env go together: e.g. username_env: BUS_USER, password_env: BUS_PASSWORD"]);
    expect(problems({ password_env: "BUS_PASSWORD" })).toEqual([expect.stringMatching(/go together/)]);
    expect(problems({ token: "inline-secret" })).toEqual([expect.stringMatching(/^: Unrecognized key: "token"$/)]);
  });

  it("describes every option (the map's JSON schema is generated from them)", () => {
    const schema = z.toJSONSchema(NatsOptions) as { properties: Record<string, { description?: string }> };
    expect(Object.keys(schema.properties).sort()).toEqual(["password_env", "stream", "subject", "token_env", "username_env"]);
    for (const [name, property] of Object.entries(schema.properties)) expect([name, property.description]).toEqual([name, expect.stringMatching(/\w{3}/)]);
  });

  it("accepts nats:// and tls:// urls and refuses credentials, other schemes, paths and junk", () => {
    for (const url of ["nats://nats.example:4222", "nats://127.0.0.1", "tls://nats.example", "nats://[::1]:4222"]) expect([url, natsUrlProblem(url)]).toEqual([url, undefined]);
    const secret = natsUrlProblem("nats://relay:hunter2-secret@nats.example:4222");
    expect(secret).toMatch(/must not hold credentials: put them in environment variables and name them with token_env \(or username_env and password_env\), e\.g\. nats:\/\/nats\.example:4222/);
    expect(secret).not.toContain("hunter2");
    expect(natsUrlProblem("nats://s3cret-token@nats.example")).toMatch(/must not hold credentials/);
    expect(natsUrlProblem("https://nats.example")).toMatch(/must start with nats:\/\/ \(TLS when the server offers it\) or tls:\/\/ \(TLS required\), e\.g\./);
    expect(natsUrlProblem("ws://nats.example:8080")).toMatch(/must start with nats:\/\//);
    expect(natsUrlProblem("nats://nats.example/openci")).toMatch(/no path, query or fragment; the subject is the subject option/);
    expect(natsUrlProblem("nats://nats.example?x=1")).toMatch(/no path, query or fragment/);
    expect(natsUrlProblem("nats.example:4222")).toMatch(/must start with nats:\/\//);
    expect(natsUrlProblem("not a url")).toMatch(/must be nats:\/\/host\[:port\] or tls:\/\/host\[:port\], e\.g\./);
  });

  it("natsTransport refuses what the schema would, before connecting", () => {
    const log = pino({ level: "silent" });
    expect(() => natsTransport({ id: "bus", url: "nats://u:p@nats.example" }, {}, log)).toThrow(/^subscriber 'bus': a NATS subscriber's url must not hold credentials/);
    expect(() => natsTransport({ id: "bus", url: "nats://nats.example", token_env: "A", username_env: "B", password_env: "C" }, {}, log)).toThrow(/^subscriber 'bus': give either token_env/);
    expect(() => natsTransport({ id: "bus", url: "nats://nats.example", subject: "openci.*" }, {}, log)).toThrow(/^subscriber 'bus': subject must not contain the wildcards/);
  });
});
