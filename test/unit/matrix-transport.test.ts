import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { ServerResponse } from "node:http";
import { Writable } from "node:stream";
import { UnrecoverableError } from "bullmq";
import { createLogger } from "../../src/log.js";
import { MatrixOptions, matrixTransport, matrixTxnId } from "../../src/sinks/transports/matrix.js";
import type { ChatLine } from "../../src/sinks/transport.js";
import { freePort } from "../../src/util/free-port.js";
import { FakeMatrix } from "../fakes/matrix/fake-matrix.js";
import { useLoopbackServers } from "../helpers/loopback-server.js";
import { waitFor } from "../helpers/wait-for.js";

const RELAY = "@openci-relay:fake.test";
const TOKEN = "syt_b3BlbmNpLXJlbGF5_sEcReTtOkEnVaLuE_0xyz12";
const ENV = { OPENCI_MATRIX_TOKEN: TOKEN };

let matrix: FakeMatrix;
const logLines: string[] = [];
const log = createLogger("debug", new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) }));

beforeAll(async () => {
  matrix = await FakeMatrix.start({ users: [{ userId: RELAY, token: TOKEN }, { userId: "@someone:fake.test", token: "syt_other" }] });
});
afterAll(async () => {
  await matrix.stop();
  expect(matrix.problems).toEqual([]);
  expect(logLines.join("")).not.toContain(TOKEN);
});

let n = 0;
const line = (o: Partial<ChatLine> = {}): ChatLine => {
  n++;
  return { text: `nova 31.0.0: tempest passed (${n})`, html: `<b>nova</b> 31.0.0: tempest <a href="https://ci.example/runs/${n}">passed</a>`, key: `record-${n}`, ...o };
};
const sink = (room: string, o: Partial<MatrixOptions> = {}) => ({ id: "openinfra-matrix", matrix: { homeserver: matrix.url, room, token_env: "OPENCI_MATRIX_TOKEN", ...o } });
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected a failure"); }, (e: unknown) => e as Error);
const since = (before: number) => matrix.requests.slice(before);

describe("matrixTransport: posting", () => {
  it("posts a line as an m.notice with its HTML, with the access token as a Bearer header and a URL-safe transaction id from the key", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    const before = matrix.requests.length;
    const l = line();

    await matrixTransport(sink(roomId), ENV, log).say(l);

    expect(matrix.roomEvents(roomId)).toEqual([expect.objectContaining({
      sender: RELAY, type: "m.room.message", txnId: matrixTxnId(l.key),
      content: { msgtype: "m.notice", body: l.text, format: "org.matrix.custom.html", formatted_body: l.html, "m.mentions": {} },
    })]);
    const sent = since(before);
    expect(sent.map((r) => `${r.method} ${r.route} ${r.status}`)).toEqual(["PUT send 200"]);
    expect(sent[0]!.path).toBe(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${matrixTxnId(l.key)}`);
    expect(sent[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sent[0]!.query).toBe("");
    expect(matrixTxnId(l.key)).toMatch(/^[A-Za-z0-9._~-]+$/);
    expect(matrixTxnId(l.key)).toBe(matrixTxnId(`record-${n}`));
    expect(matrixTxnId("record-other")).not.toBe(matrixTxnId(l.key));
  });

  it("a retried say() with the same key posts once: the homeserver answers the repeated transaction with the first event", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    const before = matrix.requests.length;
    const l = line();
    const transport = matrixTransport(sink(roomId), ENV, log);

    await transport.say(l);
    await transport.say(l);
    // another transport (the relay restarted) with the same token and key: still the same transaction
    await matrixTransport(sink(roomId), ENV, log).say(l);

    expect(since(before).map((r) => `${r.route} ${r.status}`)).toEqual(["send 200", "send 200", "send 200"]);
    expect(matrix.roomEvents(roomId)).toHaveLength(1);
    await transport.say(line());
    expect(matrix.roomEvents(roomId)).toHaveLength(2);
  });

  it("resolves an alias once, joins the public room it is not in when the homeserver refuses the event, and sends again", async () => {
    const roomId = matrix.addRoom({ alias: "#openinfra-events:fake.test", public: true });
    const before = matrix.requests.length;
    const transport = matrixTransport(sink("#openinfra-events:fake.test"), ENV, log);

    await transport.say(line());
    await transport.say(line());

    expect(since(before).map((r) => `${r.method} ${r.route} ${r.status}`)).toEqual([
      "GET directory 200", "PUT send 403", "POST join 200", "PUT send 200", "PUT send 200",
    ]);
    expect(since(before)[0]!.path).toBe(`/_matrix/client/v3/directory/room/${encodeURIComponent("#openinfra-events:fake.test")}`);
    expect(since(before)[2]!.path).toBe(`/_matrix/client/v3/join/${encodeURIComponent("#openinfra-events:fake.test")}`);
    expect(since(before)[2]!.body).toEqual({});
    expect(matrix.members(roomId)).toEqual([RELAY]);
    expect(matrix.roomEvents(roomId)).toHaveLength(2);
  });

  it("joins an invite-only room it was invited to", async () => {
    const roomId = matrix.addRoom({ invited: [RELAY] });
    await matrixTransport(sink(roomId), ENV, log).say(line());
    expect(matrix.members(roomId)).toEqual([RELAY]);
    expect(matrix.roomEvents(roomId)).toHaveLength(1);
  });

  it("a room it may not join: the error says to invite the account, and it joins only once", async () => {
    const roomId = matrix.addRoom({ alias: "#private:fake.test" });
    const before = matrix.requests.length;
    const e = await failure(matrixTransport(sink("#private:fake.test"), ENV, log).say(line()));
    expect(e.message).toMatch(/may not join #private:fake\.test \(403 M_FORBIDDEN .*\): invite it to the room, or make the room public/);
    expect(e).toBeInstanceOf(UnrecoverableError); // only a person can invite it: dead-lettered at once
    expect(since(before).map((r) => `${r.route} ${r.status}`)).toEqual(["directory 200", "send 403", "join 403"]);
    expect(matrix.roomEvents(roomId)).toEqual([]);
  });

  it("an alias the homeserver does not know: the error names matrix.room", async () => {
    const e = await failure(matrixTransport(sink("#nowhere:fake.test"), ENV, log).say(line()));
    expect(e.message).toMatch(/knows no room #nowhere:fake\.test \(404 M_NOT_FOUND.*\): check matrix\.room/);
    expect(e).toBeInstanceOf(UnrecoverableError);
  });
});

describe("matrixTransport: rate limits", () => {
  it("waits out a 429 M_LIMIT_EXCEEDED for its retry_after_ms, then the line lands once", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    matrix.rateLimit("send", { times: 2, retryAfterMs: 150 });
    const before = matrix.requests.length;
    const started = Date.now();

    await matrixTransport(sink(roomId), ENV, log).say(line());

    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(since(before).map((r) => `${r.route} ${r.status}`)).toEqual(["send 429", "send 429", "send 200"]);
    expect(matrix.roomEvents(roomId)).toHaveLength(1);
  });

  it("prefers the Retry-After header (seconds) to the deprecated retry_after_ms", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    matrix.rateLimit("send", { retryAfterMs: 10, header: true });
    const started = Date.now();
    await matrixTransport(sink(roomId), ENV, log).say(line());
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(matrix.roomEvents(roomId)).toHaveLength(1);
  });

  it("a wait longer than timeoutMs is not waited: say() throws at once, for the queue to retry later", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    matrix.rateLimit("send", { retryAfterMs: 60_000 });
    const started = Date.now();
    const e = await failure(matrixTransport(sink(roomId), ENV, log, { timeoutMs: 2000 }).say(line()));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(e.message).toMatch(/rate limiting the relay \(M_LIMIT_EXCEEDED\) and asks to wait 60000 ms, longer than/);
    expect(e).not.toBeInstanceOf(UnrecoverableError); // the queue retries it
    expect(matrix.roomEvents(roomId)).toEqual([]);
  });

  it("close() ends a wait in progress", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    matrix.rateLimit("send", { retryAfterMs: 10_000 });
    const transport = matrixTransport(sink(roomId), ENV, log);
    const waiting = () => logLines.filter((l) => l.includes("matrix homeserver rate limited: waiting")).length;
    const before = waiting();
    const saying = failure(transport.say(line()));
    // The 429 read and the transport waiting on it (its log line), not only the request sent.
    await waitFor("the wait for the rate limit", () => waiting() > before);
    await transport.close();
    expect((await saying).message).toMatch(/closed while waiting out a rate limit/);
  });
});

describe("matrixTransport: credentials", () => {
  it("a token the homeserver does not know: the error names the variable and what to check, never the token", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    const e = await failure(matrixTransport(sink(roomId), { OPENCI_MATRIX_TOKEN: "syt_revoked_token_value" }, log).say(line()));
    expect(e.message).toMatch(/401 M_UNKNOWN_TOKEN.*check OPENCI_MATRIX_TOKEN: it must hold a current access token of the relay's account/);
    expect(e.message).not.toContain("syt_revoked_token_value");
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(matrix.roomEvents(roomId)).toEqual([]);
  });

  it("an unset variable: the error says to set it, and nothing is sent", async () => {
    const before = matrix.requests.length;
    const e = await failure(matrixTransport(sink("!abc:fake.test", { token_env: "OPENCI_MATRIX_TOKEN_UNSET" }), ENV, log).say(line()));
    expect(e.message).toBe(`subscriber 'openinfra-matrix': OPENCI_MATRIX_TOKEN_UNSET is not set: set it to the access token of the relay's Matrix account on ${matrix.url}`);
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(matrix.requests.length).toBe(before);
  });
});

describe("matrixTransport: what a retry cannot fix is not retried", () => {
  const serve = useLoopbackServers();
  const json = (status: number, body: object) => (res: ServerResponse) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

  it("a room it joined but may not post in (403 after the join) is an UnrecoverableError", async () => {
    const origin = await serve((req, res) => json(req.method === "POST" ? 200 : 403, req.method === "POST" ? { room_id: "!abc:fake.test" } : { errcode: "M_FORBIDDEN", error: "power level too low" })(res));
    const e = await failure(matrixTransport(sink("!abc:fake.test", { homeserver: origin }), ENV, log).say(line()));
    expect(e.message).toMatch(/refused the line in !abc:fake\.test \(403 M_FORBIDDEN power level too low\): give the relay's account the power level to post m\.room\.message there/);
    expect(e).toBeInstanceOf(UnrecoverableError);
  });

  it("a 5xx and a homeserver that does not answer are plain errors, for the queue to retry with backoff", async () => {
    const origin = await serve((_req, res) => json(502, { errcode: "M_UNKNOWN", error: "bad gateway" })(res));
    const e = await failure(matrixTransport(sink("!abc:fake.test", { homeserver: origin }), ENV, log).say(line()));
    expect(e.message).toBe(`subscriber 'openinfra-matrix': posting the line on ${origin} answered 502 M_UNKNOWN bad gateway`);
    expect(e).not.toBeInstanceOf(UnrecoverableError);
    const gone = `http://127.0.0.1:${await freePort()}`;
    const e2 = await failure(matrixTransport(sink("!abc:fake.test", { homeserver: gone }), ENV, log).say(line()));
    expect(e2.message).toMatch(/^subscriber 'openinfra-matrix': posting the line on http:\/\/127\.0\.0\.1:\d+ failed: /);
    expect(e2).not.toBeInstanceOf(UnrecoverableError);
  });
});

describe("MatrixOptions", () => {
  const ok = { homeserver: "https://matrix.org", room: "#openinfra-events:matrix.org", token_env: "OPENCI_MATRIX_TOKEN" };
  const problems = (v: unknown) => {
    const r = MatrixOptions.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("takes an alias, a room id with or without a server (room version 12), and http only on loopback", () => {
    expect(problems(ok)).toEqual([]);
    expect(problems({ ...ok, room: "!abc:matrix.org" })).toEqual([]);
    expect(problems({ ...ok, room: "!l8Ck2L3bmVxLHU8gpBB3zz-YMCbEl1JJDyw1Y53YhzQ" })).toEqual([]);
    expect(problems({ ...ok, room: "#ci:[::1]:8448" })).toEqual([]);
    expect(problems({ ...ok, homeserver: "http://127.0.0.1:8008" })).toEqual([]);
    expect(MatrixOptions.shape.room.description).toMatch(/alias/);
    expect(MatrixOptions.shape.homeserver.description).toBeTruthy();
    expect(MatrixOptions.shape.token_env.description).toBeTruthy();
  });

  it("refuses what is wrong with a message naming the fix and an example", () => {
    expect(problems({ ...ok, homeserver: "http://matrix.org" })).toEqual(['homeserver: must use https (http only on loopback), e.g. "https://matrix.org"']);
    expect(problems({ ...ok, homeserver: "matrix.org" })).toEqual(['homeserver: must be the homeserver\'s https URL, e.g. "https://matrix.org"']);
    expect(problems({ ...ok, homeserver: "https://bot:pw@matrix.org" })).toEqual(['homeserver: must be a plain base URL without credentials, ?query or #fragment, e.g. "https://matrix.org"']);
    for (const room of ["openinfra-events", "#openinfra-events", "@user:matrix.org", "#a b:matrix.org", ""]) {
      expect(problems({ ...ok, room })).toEqual(['room: must be a room alias or a room id: "#openinfra-events:matrix.org" (an alias) or "!abc:matrix.org" (a room id)']);
    }
    expect(problems({ ...ok, token_env: "syt_actual_token" })).toEqual(['token_env: must name an environment variable, e.g. "MATRIX_TOKEN"']);
    expect(problems({ ...ok, token: "syt_x" })).toEqual([expect.stringMatching(/Unrecognized key.*token/)]);
    expect(problems({ homeserver: ok.homeserver, room: ok.room })).toEqual([expect.stringMatching(/^token_env: /)]);
  });

  it("matrixTransport refuses bad options with the subscriber and the option named", () => {
    expect(() => matrixTransport({ id: "m", matrix: { ...ok, room: "events" } }, ENV, log)).toThrow(/^subscriber 'm': matrix\.room must be a room alias or a room id/);
    expect(() => matrixTransport({ id: "m", matrix: { ...ok, room: "events" } }, ENV, log)).toThrow(UnrecoverableError);
  });
});


describe("the fake homeserver", () => {
  it("refuses content the spec does not define, and a wrong token, as a homeserver does (so an empty problems list means something)", async () => {
    const roomId = matrix.addRoom({ members: [RELAY] });
    const put = (content: unknown, token = TOKEN) => fetch(`${matrix.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${n++}`, {
      method: "PUT", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(content),
    }).then(async (r) => [r.status, ((await r.json()) as { errcode: string }).errcode]);

    expect(await put({ msgtype: "m.notice", body: "x", format: "org.matrix.custom.html" })).toEqual([400, "M_BAD_JSON"]);
    expect(await put({ msgtype: "m.notice", body: "x", formatted_body: "<b>x</b>", format: "text/html" })).toEqual([400, "M_BAD_JSON"]);
    expect(await put({ msgtype: "m.notice" })).toEqual([400, "M_BAD_JSON"]);
    expect(await put({ msgtype: "m.notice", body: "x" }, "syt_nobody")).toEqual([401, "M_UNKNOWN_TOKEN"]);
    expect(matrix.problems.splice(0)).toEqual([
      expect.stringMatching(/format and formatted_body go together/),
      expect.stringMatching(/only org\.matrix\.custom\.html is defined/),
      expect.stringMatching(/body must be a string/),
    ]);
    expect(matrix.roomEvents(roomId)).toEqual([]);
  });
});
