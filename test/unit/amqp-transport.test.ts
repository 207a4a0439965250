import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { UnrecoverableError } from "bullmq";
import { Connection, type SyncMessage } from "rabbitmq-client";
import type { TopicNames } from "../../src/sinks/transport.js";
import {
  AMQP_DEFAULT_ROUTING_KEY, AmqpOptions, amqpRoutingKey, amqpTransport, amqpUrlProblem, amqpWord, type AmqpSink,
} from "../../src/sinks/transports/amqp.js";
import { startRabbitmq, type TestRabbitmq } from "../helpers/rabbitmq.js";
import { binaryModeMessage, closedAfterEach, memoryLog } from "../helpers/transport-fixtures.js";
import { waitFor } from "../helpers/wait-for.js";

/**
 * The AMQP 0-9-1 transport against a real RabbitMQ (a private node for this file, on free loopback
 * ports), read back by clients of the test's own (rabbitmq-client as guest): queues bound to the
 * exchange before the publish, read with basic.get, so a message is in the queue or it is not.
 */

const { log, lines } = memoryLog();
const PASSWORD = "guest"; // RabbitMQ's default user, which the node accepts from localhost
const WRONG = "not-the-password-3b1f";
const env = { BUS_USER: "guest", BUS_PASSWORD: PASSWORD, BAD_PASSWORD: WRONG };

const message = (n: number, names: Partial<TopicNames> = {}) => binaryModeMessage(`bafyreiamqptest${n}${randomBytes(3).toString("hex")}`, n, names);

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;

const transport = closedAfterEach(amqpTransport);
const clients: Connection[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client of the test's own, as guest. */
function client(rabbit: TestRabbitmq): Connection {
  const c = new Connection({ url: rabbit.guestUrl, retryLow: 100, retryHigh: 500 });
  c.on("error", () => undefined);
  clients.push(c);
  return c;
}

/** A queue bound to `exchange` (declared as the relay would, unless `type` says otherwise) before anything is published. */
async function boundQueue(c: Connection, exchange: string, bindingKey: string, o: { type?: string; durable?: boolean } = {}): Promise<string> {
  const queue = unique("q");
  await c.exchangeDeclare({ exchange, type: o.type ?? "topic", durable: true });
  await c.queueDeclare(o.durable ? { queue, durable: true } : { queue, exclusive: true });
  await c.queueBind({ queue, exchange, routingKey: bindingKey });
  return queue;
}

/** Everything in `queue` now (basic.get until empty, acknowledged). */
async function drain(c: Connection, queue: string): Promise<SyncMessage[]> {
  const got: SyncMessage[] = [];
  for (;;) {
    const msg = await c.basicGet({ queue, noAck: true });
    if (!msg) return got;
    got.push(msg);
  }
}

describe("AMQP subscriber options", () => {
  it("default to the exchange openci and openci.{foundation}.{project}.{event}", () => {
    expect(AmqpOptions.parse({})).toEqual({ exchange: "openci", routing_key: AMQP_DEFAULT_ROUTING_KEY });
    expect(AmqpOptions.parse({ exchange: "fedora.ci", routing_key: "org.openci.{project}.{event}", username_env: "BUS_USER", password_env: "BUS_PASSWORD" }))
      .toEqual({ exchange: "fedora.ci", routing_key: "org.openci.{project}.{event}", username_env: "BUS_USER", password_env: "BUS_PASSWORD" });
  });

  it.each([
    ["a '*' wildcard", { routing_key: "openci.*.{event}" }, "has '*' or '#': those are wildcards of bindings"],
    ["a '#' wildcard", { routing_key: "openci.{project}.#" }, "has '*' or '#': those are wildcards of bindings"],
    ["an empty word", { routing_key: "openci..{event}" }, "has an empty word"],
    ["a leading '.'", { routing_key: ".openci.{event}" }, "has an empty word"],
    ["a trailing '.'", { routing_key: "openci.{event}." }, "has an empty word"],
    ["an empty routing key", { routing_key: "" }, "the routing key template is empty"],
    ["white space", { routing_key: "openci.{project} x.{event}" }, "white space or a control character"],
    ["an unknown name", { routing_key: "openci.{repo}.{event}" }, "names {repo}: only {foundation}, {project} and {event} can be filled in"],
    ["a stray brace", { routing_key: "openci.{project.{event}" }, "has a '{' or '}' that is not part of"],
    ["a key over 255 bytes", { routing_key: `openci.${"x".repeat(260)}.{event}` }, "longer than 255 bytes"],
    ["the default exchange", { exchange: "" }, "must name an exchange"],
    ["an exchange with a space", { exchange: "open ci" }, "must be letters, digits, '-', '_', '.' and ':'"],
    ["a lower-case variable", { username_env: "bus_user" }, "must name an environment variable"],
    ["the relay's own variable", { password_env: "PRIVATE_KEY" }, "the relay's own configuration"],
    ["an unknown option", { queue: "x" }, "queue"],
  ])("refuse %s, saying what to write", (_, options, words) => {
    const parsed = AmqpOptions.safeParse(options);
    expect(parsed.success).toBe(false);
    const text = JSON.stringify(parsed.error?.issues);
    expect(text).toContain(words);
  });

  it("give every routing key problem an example to copy", () => {
    for (const routing_key of ["", "a.*", "a..b", "a.{x}"]) {
      expect(AmqpOptions.safeParse({ routing_key }).error?.issues[0]?.message).toContain(`e.g. ${AMQP_DEFAULT_ROUTING_KEY}`);
    }
  });

  it("describe every option (the map's JSON schema is made from it)", () => {
    for (const [name, schema] of Object.entries(AmqpOptions.shape)) expect([name, schema.description ?? ""]).toEqual([name, expect.stringMatching(/\w{3,}/)]);
  });

  it.each([
    ["amqp://rabbit.example:5672/%2F", undefined],
    ["amqps://rabbit.example/%2F", undefined],
    ["amqp://rabbit.example", undefined],
    ["amqp://[::1]:5672/ci", undefined],
    ["amqp://bus:s3cret-pw@rabbit.example/%2F", "remove them and name the variables holding them with username_env and password_env"],
    ["https://rabbit.example/%2F", "must start with amqp:// or amqps://"],
    ["mqtt://rabbit.example", "must start with amqp:// or amqps://"],
    ["rabbit.example:5672", "must start with amqp:// or amqps://"],
    ["not a url", "is not a URL"],
    ["amqp://rabbit.example/a/b", "more than one segment"],
    ["amqp://rabbit.example/%E0%A4%A", "not valid percent-encoding"],
    ["amqp://rabbit.example/%2F?heartbeat=5", "query or fragment"],
  ])("url %s: %s", (url, problem) => {
    const said = amqpUrlProblem(url);
    if (problem === undefined) expect(said).toBeUndefined();
    else {
      expect(said).toContain(problem);
      expect(said).toContain("e.g. amqp://rabbit.example:5672/%2F");
      expect(said).not.toContain("s3cret-pw");
    }
  });

  it("turn '.', '*', '#', white space and control characters of a name into '_', so a name is always one word", () => {
    expect(amqpWord("nova")).toBe("nova");
    expect(amqpWord("a.b*c#d e\tf\ng\u0000h\u009f")).toBe("a_b_c_d_e_f_g_h_");
    expect(amqpWord("")).toBe("_");
    expect(amqpRoutingKey(AMQP_DEFAULT_ROUTING_KEY, { names: { foundation: "l.f", project: "*.#", event: "pipelinerun.finished" } }))
      .toBe("openci.l_f.___.pipelinerun.finished");
  });
});

describe("AMQP transport against RabbitMQ", () => {
  let rabbit: TestRabbitmq;
  let startSeconds = 0;
  const sinkOf = (extra: Partial<AmqpSink> = {}): AmqpSink => ({ id: "fedora-bus", url: rabbit.url, username_env: "BUS_USER", password_env: "BUS_PASSWORD", ...extra });

  beforeAll(async () => {
    const t0 = Date.now();
    rabbit = await startRabbitmq();
    startSeconds = (Date.now() - t0) / 1000;
  }, 60_000);
  afterAll(async () => {
    await rabbit?.stop();
  });

  it("starts a private node quickly, on its own port", () => {
    expect(startSeconds).toBeLessThan(20);
    expect(rabbit.port).not.toBe(5672);
    expect(rabbit.url).toBe(`amqp://127.0.0.1:${rabbit.port}/%2F`);
  });

  it("publishes a persistent message: the CID as message id, the content type, cloudEvents: attributes, the CDEvent as body", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const queue = await boundQueue(c, exchange, "#");
    const m = message(1);
    await transport(sinkOf({ exchange }), env, log).publish(m);
    const [got, ...more] = await drain(c, queue);
    expect(more).toEqual([]);
    expect(got).toMatchObject({
      exchange, routingKey: "openci.lf.nova.pipelinerun.finished",
      messageId: m.cid, contentType: "application/json", appId: "openci-relay",
      headers: {
        "cloudEvents:specversion": "1.0", "cloudEvents:id": m.cid, "cloudEvents:source": "https://relay.example/openci-relay",
        "cloudEvents:type": "dev.cdevents.pipelinerun.finished.0.3.0", "cloudEvents:subject": "nova@v1", "cloudEvents:time": "2025-01-02T03:04:05.000Z",
      },
    });
    expect((got as SyncMessage & { deliveryMode?: number }).deliveryMode).toBe(2);
    // datacontenttype is the content-type property (binding 3.1.1), not a header
    expect(Object.keys(got!.headers ?? {}).sort()).toEqual(["id", "source", "specversion", "subject", "time", "type"].map((a) => `cloudEvents:${a}`));
    // rabbitmq-client parses an application/json body: it must be the CDEvent, byte for byte as JSON
    expect(got!.body).toEqual(JSON.parse(m.body));
    expect(JSON.stringify(got!.body)).toBe(m.body);
  });

  it("resolves only once the broker has the message: it is in a queue bound before, the moment publish resolves", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const queue = await boundQueue(c, exchange, "openci.*.*.pipelinerun.*", { durable: true });
    const t = transport(sinkOf({ exchange }), env, log);
    const sent = [message(1), message(2), message(3)];
    for (const m of sent) {
      await t.publish(m);
      const [got] = await drain(c, queue); // no waiting: confirmed means routed and stored
      expect(got?.messageId).toBe(m.cid);
    }
    await Promise.all([message(4), message(5)].map((m) => t.publish(m)));
    expect((await drain(c, queue)).length).toBe(2);
  });

  it("fills the routing key template, a name never adding a word or a wildcard", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const everything = await boundQueue(c, exchange, "#");
    const oneProject = await boundQueue(c, exchange, "ci.*.nova.#");
    const t = transport(sinkOf({ exchange, routing_key: "ci.{foundation}.{project}.{event}" }), env, log);
    await t.publish(message(1, { foundation: "l.f", project: "evil.*.# x" }));
    await t.publish(message(2));
    await t.publish(message(3, { foundation: "_", event: "artifact.published" }));
    expect((await drain(c, everything)).map((m) => m.routingKey)).toEqual([
      "ci.l_f.evil_____x.pipelinerun.finished", "ci.lf.nova.pipelinerun.finished", "ci._.nova.artifact.published",
    ]);
    expect((await drain(c, oneProject)).map((m) => m.routingKey)).toEqual(["ci.lf.nova.pipelinerun.finished", "ci._.nova.artifact.published"]);
  });

  it("declares a missing exchange as a durable topic exchange, and publishes to it though nobody listens (not mandatory)", async () => {
    const exchange = unique("new");
    await transport(sinkOf({ exchange }), env, log).publish(message(1));
    const c = client(rabbit);
    await c.exchangeDeclare({ exchange, passive: true });
    // an equivalent declare is accepted; a different one would close the channel with PRECONDITION_FAILED
    await c.exchangeDeclare({ exchange, type: "topic", durable: true });
    await expect(c.exchangeDeclare({ exchange, type: "fanout", durable: true })).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
    expect(lines.some((l) => l.includes("declared the AMQP exchange") && l.includes(exchange))).toBe(true);
  });

  it("a first burst to a broker without the exchange: it is checked and declared once, and every publish of the burst is confirmed", async () => {
    const exchange = unique("burst");
    const t = transport(sinkOf({ exchange }), env, log);

    // As the sinks worker does: 8 deliveries at once (a passive declare of a missing exchange closes
    // the channel: each publish checking on its own failed the others with "channel is closed").
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => t.publish(message(100 + i))));

    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(lines.filter((l) => l.includes("declared the AMQP exchange") && l.includes(exchange))).toHaveLength(1);
  });

  it("uses an exchange the broker's admin declared as it is (here a fanout)", async () => {
    const c = client(rabbit);
    const exchange = unique("admin");
    const queue = await boundQueue(c, exchange, "", { type: "fanout" });
    const m = message(1);
    await transport(sinkOf({ exchange }), env, log).publish(m);
    expect((await drain(c, queue)).map((x) => x.messageId)).toEqual([m.cid]);
  });

  it("declares the exchange again when it was deleted under it", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const t = transport(sinkOf({ exchange }), env, log);
    await t.publish(message(1));
    await c.exchangeDelete({ exchange });
    // the first publish after the delete fails (NOT_FOUND closes the channel) or goes through a new check
    await t.publish(message(2)).catch((err: Error) => expect(err.message).toContain("NOT_FOUND"));
    const queue = await boundQueue(c, exchange, "#");
    const m = message(3);
    await t.publish(m);
    expect((await drain(c, queue)).map((x) => x.messageId)).toEqual([m.cid]);
  });

  it("opens the connection again after close", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const queue = await boundQueue(c, exchange, "#");
    const t = transport(sinkOf({ exchange }), env, log);
    await t.publish(message(1));
    await t.close();
    await t.publish(message(2));
    expect((await drain(c, queue)).length).toBe(2);
  });

  it("refuses a wrong password at once, naming the variables and never the password", async () => {
    const t = transport(sinkOf({ password_env: "BAD_PASSWORD" }), env, log, { timeoutMs: 8000 });
    const started = Date.now();
    const err = await t.publish(message(1)).then(() => undefined, (e: Error) => e);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(err?.message).toContain("the broker refused the connection (ACCESS_REFUSED)");
    expect(err?.message).toContain("check the user name and password in BUS_USER and BAD_PASSWORD");
    expect(err?.message).toContain("'fedora-bus'");
    expect(err?.message).not.toContain(WRONG);
    // and again on the next attempt: a new connection, the same clear answer
    await expect(t.publish(message(2))).rejects.toThrow("ACCESS_REFUSED");
  });

  it("names a variable that is not set, and refuses for good (the event is dead-lettered, not retried)", async () => {
    const err = await transport(sinkOf({ username_env: "NO_SUCH_BUS_USER" }), env, log).publish(message(1)).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err?.message).toContain("username_env names NO_SUCH_BUS_USER, which is not set in the relay's environment: set NO_SUCH_BUS_USER");
    const half = await transport(sinkOf({ password_env: undefined }), env, log).publish(message(1)).then(() => undefined, (e: Error) => e);
    expect(half?.message).toContain("give both username_env and password_env");
  });

  it("refuses a url with credentials in it without repeating them", async () => {
    const url = `amqp://guest:${PASSWORD}-leak@127.0.0.1:${rabbit.port}/%2F`;
    const err = await transport(sinkOf({ url }), env, log).publish(message(1)).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect(err?.message).toContain("name the variables holding them with username_env and password_env");
    expect(err?.message).not.toContain(`${PASSWORD}-leak`);
  });

  it("rejects within the timeout when nothing listens, and never hangs", async () => {
    const { freePort } = await import("../../src/util/free-port.js");
    const t = transport(sinkOf({ url: `amqp://127.0.0.1:${await freePort()}/%2F` }), env, log, { timeoutMs: 800 });
    const started = Date.now();
    await expect(t.publish(message(1))).rejects.toThrow(/did not confirm .* within 800 ms/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  // last: it kills the node under every connection
  it("survives the broker being SIGKILLed mid-stream: publishes during the outage reject in time, confirmed ones are kept, it works after the restart", async () => {
    const c = client(rabbit);
    const exchange = unique("ex");
    const queue = await boundQueue(c, exchange, "openci.#", { durable: true });
    const t = transport(sinkOf({ exchange }), env, log, { timeoutMs: 1500 });
    const confirmed: string[] = [];
    for (let n = 1; n <= 5; n += 1) {
      const m = message(n);
      await t.publish(m);
      confirmed.push(m.cid);
    }
    // one in flight while the node dies: it is either confirmed (and kept) or rejected, never left hanging
    const inFlight = message(6);
    const racing = t.publish(inFlight).then(() => confirmed.push(inFlight.cid), () => undefined);
    await rabbit.kill();
    await racing;

    const started = Date.now();
    const outage = await Promise.all([7, 8, 9].map((n) => t.publish(message(n)).then(() => "confirmed", (e: Error) => ({ message: e.message, ms: Date.now() - started }))));
    for (const rejected of outage) {
      expect(rejected).toEqual({ message: expect.stringMatching(/^AMQP subscriber 'fedora-bus' .*did not confirm .* within 1500 ms/), ms: expect.any(Number) });
      expect((rejected as { ms: number }).ms).toBeLessThan(1500 + 1000); // the deadline, plus event-loop lag on a busy CI machine
    }

    await rabbit.restart();
    const after = message(10);
    await waitFor("a publish to go through after the restart", () => t.publish(after).then(() => true, () => false), 20_000);
    confirmed.push(after.cid);

    const kept = await waitFor("the durable queue after the restart", async () => drain(c, queue).catch(() => undefined), 15_000);
    const ids = kept.map((m) => m.messageId);
    expect(ids).toEqual(expect.arrayContaining(confirmed));
    expect(kept.every((m) => (m as SyncMessage & { deliveryMode?: number }).deliveryMode === 2)).toBe(true);
    expect(lines.some((l) => l.includes("connection to the AMQP broker lost"))).toBe(true);
  }, 60_000);

  it("never logs a password", () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l).not.toContain(WRONG);
      expect(l).not.toContain(`${PASSWORD}-leak`);
      expect(l).not.toContain('"password"');
    }
  });
});
