import { UnrecoverableError } from "bullmq";
import { freePort } from "../../src/util/free-port.js";
import type { ChatLine } from "../../src/sinks/transport.js";
import { cutToBytes, IrcOptions, ircTransport, ircUrlProblem, oneIrcLine, parseIrcUrl, type IrcChat, type IrcSubscriber, type IrcTransportOptions } from "../../src/sinks/transports/irc.js";
import { ircListener, startIrcd, type IrcListener, type TestIrcd } from "../helpers/ircd.js";
import { memoryLog } from "../helpers/transport-fixtures.js";
import { waitFor } from "../helpers/wait-for.js";

const line = (text: string): ChatLine => ({ text, html: text, key: `k-${text.slice(0, 40)}` });

describe("IRC subscriber URL", () => {
  it("reads irc:// and ircs:// URLs: the channel is the path, without its # or as %23, default ports 6667 and 6697", () => {
    expect(parseIrcUrl("ircs://irc.oftc.net:6697/openinfra-events")).toEqual({ tls: true, host: "irc.oftc.net", port: 6697, channel: "#openinfra-events" });
    expect(parseIrcUrl("ircs://irc.example.org/openinfra-events")).toEqual({ tls: true, host: "irc.example.org", port: 6697, channel: "#openinfra-events" });
    expect(parseIrcUrl("irc://irc.example.org/%23ops")).toEqual({ tls: false, host: "irc.example.org", port: 6667, channel: "#ops" });
    expect(parseIrcUrl("irc://[::1]:7000/%26local")).toEqual({ tls: false, host: "::1", port: 7000, channel: "&local" });
    expect(ircUrlProblem("ircs://irc.oftc.net:6697/openinfra-events")).toBeUndefined();
  });

  it.each([
    ["ircs://relay:hunter2@irc.oftc.net/openinfra-events", /must not hold a user name or password.*password_env/],
    ["ircs://irc.oftc.net:6697", /needs the channel as its path.*ircs:\/\/irc\.oftc\.net:6697\/openinfra-events/],
    ["ircs://irc.oftc.net:6697/", /needs the channel/],
    ["ircs://irc.oftc.net:6697/#openinfra-events", /without its '#'.*%23openinfra-events/],
    ["https://irc.oftc.net/openinfra-events", /must be an irc:\/\/ or ircs:\/\/ \(TLS\) URL, e\.g\./],
    ["mqtt://irc.oftc.net/openinfra-events", /must be an irc:\/\/ or ircs:\/\//],
    ["ircs://irc.oftc.net/openinfra-events,needkey", /one channel.*,needkey are not supported/],
    ["ircs://irc.oftc.net/a/b", /one channel/],
    ["ircs://irc.oftc.net/openinfra-events?key=x", /nothing else \(no \?key/],
    ["ircs://irc.oftc.net/open%20infra", /without spaces/],
    ["ircs://irc.oftc.net/%E0%A4%A", /broken %-escape/],
    ["irc.oftc.net/openinfra-events", /is not a URL.*e\.g\. ircs:\/\//],
  ])("refuses %s, saying what to write", (url, message) => {
    const problem = ircUrlProblem(url);
    expect(problem).toMatch(message);
    expect(() => parseIrcUrl(url)).toThrow(message);
    expect(problem).not.toContain("hunter2");
  });
});

describe("IRC subscriber options", () => {
  it("defaults the nick to openci-relay and sasl to false; every field is described for the map's JSON schema", () => {
    expect(IrcOptions.parse({})).toEqual({ nick: "openci-relay", sasl: false });
    expect(IrcOptions.parse({ nick: "relay[bot]", password_env: "OPENCI_IRC_PASSWORD", sasl: true }))
      .toEqual({ nick: "relay[bot]", password_env: "OPENCI_IRC_PASSWORD", sasl: true });
    for (const [name, field] of Object.entries(IrcOptions.shape)) expect([name, field.description]).toEqual([name, expect.stringMatching(/^irc\(s\):\/\/ subscribers: .{20,}/)]);
  });

  it.each([
    [{ nick: "1relay" }, "nick", /must be an IRC nick.*e\.g\. openci-relay/],
    [{ nick: "open ci" }, "nick", /must be an IRC nick/],
    [{ nick: "a".repeat(31) }, "nick", /up to 30/],
    [{ password_env: "irc-password" }, "password_env", /must name an environment variable, e\.g\. IRC_BOT_PASSWORD/],
    [{ sasl: "yes" }, "sasl", /boolean/],
    [{ channel: "#x" }, "", /channel/],
  ])("refuses %j with a message on %s", (options, path, message) => {
    const parsed = IrcOptions.safeParse(options);
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0]!;
    expect(issue.path.join(".")).toBe(path);
    expect(issue.message).toMatch(message);
  });

  it("a password variable that is not set is named in the error, and sasl needs one", () => {
    const { log } = memoryLog();
    const sink = { id: "openinfra-events", url: "ircs://irc.oftc.net:6697/openinfra-events", password_env: "OPENCI_IRC_PASSWORD" };
    expect(() => ircTransport(sink, {}, log)).toThrow("subscriber 'openinfra-events': password_env names OPENCI_IRC_PASSWORD, which is not set: set it to the services password of the nick openci-relay");
    expect(() => ircTransport(sink, { OPENCI_IRC_PASSWORD: "" }, log)).toThrow(/OPENCI_IRC_PASSWORD, which is not set/);
    expect(() => ircTransport(sink, {}, log)).toThrow(UnrecoverableError);
    expect(() => ircTransport({ id: "c", url: sink.url, sasl: true }, {}, log)).toThrow("subscriber 'c': sasl: true needs password_env, the variable holding the password of the nick openci-relay, e.g. password_env: IRC_BOT_PASSWORD");
    let thrown: Error | undefined;
    try {
      ircTransport(sink, { OPENCI_IRC_PASSWORD: "pw\r\nQUIT" }, log);
    } catch (error) {
      thrown = error as Error;
    }
    expect(thrown?.message).toBe("subscriber 'openinfra-events': the value of OPENCI_IRC_PASSWORD holds a line break or NUL: an IRC password is one line");
    expect(() => ircTransport({ id: "c", url: "https://example.org/x" }, {}, log)).toThrow(/^subscriber 'c': url must be an irc:\/\/ or ircs:\/\//);
  });

  it("makes a line one line and cuts it on a UTF-8 boundary", () => {
    expect(oneIrcLine("a\r\nQUIT :x\n\nb\x00c\x01ACTION d\x01\x7f\x85\u2028e")).toBe("a QUIT :x bcACTION d e");
    expect(cutToBytes("abc", 3)).toBe("abc");
    expect(cutToBytes("aéé", 4)).toBe("a…"); // é is 2 bytes, … 3: "aé…" would be 6
    expect(cutToBytes("😀😀😀", 8)).toBe("😀…");
  });
});

describe("IRC transport against a private ngIRCd", () => {
  let ircd: TestIrcd;
  const made: IrcChat[] = [];
  const listeners: IrcListener[] = [];
  let channelNo = 0;

  beforeAll(async () => {
    ircd = await startIrcd({ tls: true });
  });
  afterEach(async () => {
    await Promise.all(made.splice(0).map((t) => t.close()));
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  });
  afterAll(async () => {
    await ircd?.stop();
  });

  /** A fresh channel per test, with a listener in it. */
  async function channel(o: { nick?: string } = {}) {
    const name = `relay-test-${++channelNo}`;
    const listener = await ircListener(ircd, { channel: `#${name}`, ...o });
    listeners.push(listener);
    return { name, listener };
  }
  function transport(name: string, o: IrcTransportOptions & { env?: NodeJS.ProcessEnv; sink?: Partial<IrcSubscriber> } = {}) {
    const { log, text } = memoryLog();
    const t = ircTransport({ id: "irc-test", url: `irc://127.0.0.1:${ircd.port}/${name}`, ...o.sink }, o.env ?? {}, log, { lineIntervalMs: 300, ...o });
    made.push(t);
    return { t, logText: text };
  }
  const from = (l: IrcListener, nick: string) => l.messages.filter((m) => m.from === nick);
  /** Waits until `nick` said `count` lines to the listener; returns them. */
  const saidBy = (l: IrcListener, nick: string, count: number) =>
    waitFor(`${count} line(s) from ${nick}`, () => (from(l, nick).length >= count ? from(l, nick) : undefined));

  it("connects and joins only when it has something to say, then the listener gets the line and the bot stays", async () => {
    const { name, listener } = await channel();
    const { t, logText } = transport(name);
    // Created, nothing said: not connected (the server has no such nick).
    listener.send("WHOIS openci-relay");
    await waitFor("the WHOIS answer", () => listener.lines.some((l) => / 401 listener openci-relay /.test(l)));
    await t.say(line("tag v1.2.3 of nova: 3 downstreams passed"));
    const [got] = await saidBy(listener, "openci-relay", 1);
    expect(got).toMatchObject({ to: `#${name}`, text: "tag v1.2.3 of nova: 3 downstreams passed" });
    expect(await listener.names()).toContain("openci-relay");
    expect(logText()).toContain("IRC channel joined");
    await t.say(line("second"));
    await waitFor("the second line", () => from(listener, "openci-relay").length === 2);
    // One connection: the bot joined once.
    expect(listener.lines.filter((l) => l.startsWith(":openci-relay!") && / JOIN /.test(l))).toHaveLength(1);
  });

  it("says at most one line per lineIntervalMs, in order, none dropped", async () => {
    const { name, listener } = await channel();
    const { t } = transport(name, { lineIntervalMs: 300 });
    const resolvedAt: number[] = [];
    await Promise.all(["one", "two", "three"].map((text, i) => t.say(line(text)).then(() => (resolvedAt[i] = Date.now()))));
    const got = await saidBy(listener, "openci-relay", 3);
    expect(got.map((m) => m.text)).toEqual(["one", "two", "three"]);
    for (const i of [1, 2]) {
      // The transport spaces its writes by its own clock readings (each ≥ 300 ms after the last);
      // the test reads the clock again in each say()'s callback, a little later (the next
      // millisecond, or after a collection on a loaded machine): seen from here a gap may read a few
      // ms short (a stress run saw 299). Unpaced lines would be ~0 ms apart.
      expect(resolvedAt[i]! - resolvedAt[i - 1]!).toBeGreaterThanOrEqual(295);
      // as received: the server relays at once, so the spacing survives (a few ms of scheduling aside)
      expect(got[i]!.at - got[i - 1]!.at).toBeGreaterThanOrEqual(270);
    }
  });

  it("paces at 2000 ms by default: the second line waits its turn, and close() rejects what it had not said", async () => {
    const { name, listener } = await channel();
    const { t } = transport(name, { lineIntervalMs: undefined });
    expect(t.lineIntervalMs).toBe(2000);
    expect(t.timeoutMs).toBe(60_000);
    const first = t.say(line("first"));
    let secondSettled = false;
    const second = t.say(line("second")).finally(() => (secondSettled = true));
    await first;
    await waitFor("the first line", () => from(listener, "openci-relay").length === 1);
    const firstAt = Date.now();
    // Well inside the 2 s: the second line is still waiting.
    await waitFor("600 ms after the first line", () => Date.now() - firstAt >= 600);
    expect(secondSettled).toBe(false);
    const rejected = expect(second).rejects.toThrow("subscriber 'irc-test' (#" + name + ` on 127.0.0.1:${ircd.port}): closed before the line was said`);
    await t.close();
    await rejected;
    await waitFor("the bot's QUIT", () => listener.lines.some((l) => /^:openci-relay!\S+ QUIT /.test(l)));
    expect(from(listener, "openci-relay").map((m) => m.text)).toEqual(["first"]);
  });

  it("CR, LF and control characters cannot inject a second IRC command", async () => {
    const { name, listener } = await channel();
    const { t } = transport(name);
    await t.say(line("x\r\nQUIT :bye"));
    await t.say(line("y\nPRIVMSG listener :psst\r\x00\x01ACTION z\x01"));
    await t.say(line("still here"));
    await saidBy(listener, "openci-relay", 3);
    // Said after the others on the same connection: had anything split a line, its pieces came before.
    await t.say(line("the end"));
    const got = await waitFor("the last line", () => (from(listener, "openci-relay").some((m) => m.text === "the end") ? from(listener, "openci-relay") : undefined));
    expect(got.map((m) => [m.to, m.text])).toEqual([
      [`#${name}`, "x QUIT :bye"], [`#${name}`, "y PRIVMSG listener :psst ACTION z"], [`#${name}`, "still here"], [`#${name}`, "the end"],
    ]);
    expect(listener.messages.filter((m) => m.to === "listener")).toEqual([]);
    expect(listener.lines.filter((l) => /^:openci-relay!\S+ QUIT /.test(l))).toEqual([]);
    expect(await listener.names()).toContain("openci-relay");
  });

  it("cuts a long line to fit the 512-byte IRC line, on a UTF-8 boundary, and never splits it into more messages", async () => {
    const { name, listener } = await channel();
    const { t } = transport(name);
    const long = `nova ${"é€😀abc ".repeat(200)}`; // ~3 KB
    await t.say(line(long));
    await t.say(line("after"));
    const got = await saidBy(listener, "openci-relay", 2);
    const [cut, after] = got;
    expect(after!.text).toBe("after");
    expect(cut!.text.endsWith("…")).toBe(true);
    expect(long.startsWith(cut!.text.slice(0, -1))).toBe(true);
    expect(cut!.text).not.toContain("\uFFFD");
    // as the server relayed it to the channel, CR LF included
    expect(Buffer.byteLength(`${cut!.raw}\r\n`)).toBeLessThanOrEqual(512);
    expect(Buffer.byteLength(cut!.text)).toBeGreaterThan(350);
  });

  it("takes nick_ when the nick is taken", async () => {
    const { name, listener } = await channel({ nick: "openci-relay" });
    const { t } = transport(name);
    await t.say(line("as the second choice"));
    const [got] = await saidBy(listener, "openci-relay_", 1);
    expect(got!.text).toBe("as the second choice");
    expect(from(listener, "openci-relay")).toEqual([]);
  });

  it("identifies to NickServ with the password from the variable password_env names, and never logs it", async () => {
    const { name, listener } = await channel();
    const nickserv = await ircListener(ircd, { nick: "NickServ" });
    listeners.push(nickserv);
    const { t, logText } = transport(name, { env: { OPENCI_IRC_PASSWORD: "s3cret-Pass word" }, sink: { password_env: "OPENCI_IRC_PASSWORD" } });
    await t.say(line("identified"));
    const [identify] = await saidBy(nickserv, "openci-relay", 1);
    expect(identify).toMatchObject({ from: "openci-relay", to: "NickServ", text: "IDENTIFY openci-relay s3cret-Pass word" });
    await waitFor("the line", () => from(listener, "openci-relay").length === 1);
    expect(nickserv.messages).toHaveLength(1);
    expect(logText()).not.toContain("s3cret");
  });

  it("with sasl: true says nothing on a server that does not log it in (ngIRCd has no SASL), and the line times out", async () => {
    const { name, listener } = await channel();
    const nickserv = await ircListener(ircd, { nick: "NickServ" });
    listeners.push(nickserv);
    const { t, logText } = transport(name, { timeoutMs: 1500, env: { OPENCI_IRC_PASSWORD: "s3cret" }, sink: { password_env: "OPENCI_IRC_PASSWORD", sasl: true } });
    const started = Date.now();
    await expect(t.say(line("never"))).rejects.toThrow(/the line was not said within 1500 ms \(SASL login as openci-relay failed \(capability_missing\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1450);
    expect(logText()).toContain("IRC SASL login failed");
    expect(logText()).not.toContain("s3cret");
    expect(nickserv.messages).toEqual([]);
    expect(listener.messages).toEqual([]);
  });

  it("rejects a line only after timeoutMs without being sent, saying why", async () => {
    const port = await freePort(); // nothing listens there
    const { log } = memoryLog();
    const t = ircTransport({ id: "irc-test", url: `irc://127.0.0.1:${port}/nowhere` }, {}, log, { timeoutMs: 400 });
    made.push(t);
    const started = Date.now();
    await expect(t.say(line("lost?"))).rejects.toThrow(`subscriber 'irc-test' (#nowhere on 127.0.0.1:${port}): the line was not said within 400 ms (connection failed: connect ECONNREFUSED 127.0.0.1:${port})`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  it("comes back when the server is killed and restarted on the same port: rejoins and says every queued line once", async () => {
    const { name, listener } = await channel();
    const { t, logText } = transport(name, { lineIntervalMs: 300, timeoutMs: 20_000 });
    const texts = ["l1", "l2", "l3", "l4", "l5", "l6"];
    const said: string[] = [];
    const all = Promise.all(texts.map((text) => t.say(line(text)).then(() => said.push(text))));
    await waitFor("two lines", () => from(listener, "openci-relay").length >= 2);
    await ircd.kill();
    const saidBeforeTheKill = [...said];
    expect(saidBeforeTheKill.length).toBeLessThan(texts.length);
    // The bot finds the server gone and fails a reconnect before it comes back.
    await waitFor("a failed reconnect", () => /ECONNREFUSED/.test(logText()), 5000);
    await ircd.restart();
    await listener.reconnect();
    await all;
    const got = await saidBy(listener, "openci-relay", texts.length);
    expect(got.map((m) => m.text)).toEqual(texts);
    expect(said).toEqual(texts);
    expect(saidBeforeTheKill).toEqual(texts.slice(0, saidBeforeTheKill.length));
    expect(logText()).toContain("IRC connection lost: reconnecting");
    expect(listener.lines.filter((l) => l.startsWith(":openci-relay!") && / JOIN /.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(await listener.names()).toContain("openci-relay");
  }, 20_000);

  it("speaks ircs:// (TLS) to a server whose CA it is given, and refuses an untrusted certificate", async () => {
    const { name, listener } = await channel();
    const { log } = memoryLog();
    const url = `ircs://127.0.0.1:${ircd.tlsPort}/${name}`;
    const untrusted = ircTransport({ id: "irc-tls", url }, {}, log, { timeoutMs: 800 });
    made.push(untrusted);
    await expect(untrusted.say(line("unverified"))).rejects.toThrow(/connection failed: self[- ]signed certificate/);
    const trusted = ircTransport({ id: "irc-tls", url }, {}, log, { ca: ircd.ca! });
    made.push(trusted);
    await trusted.say(line("over TLS"));
    const [got] = await saidBy(listener, "openci-relay", 1);
    expect(got!.text).toBe("over TLS");
    expect(listener.messages.map((m) => m.text)).not.toContain("unverified");
  });

  it("says why when the server refuses the nick (ngIRCd's default 9-character nicks)", async () => {
    const short = await startIrcd({ maxNickLength: 9 });
    try {
      const { log, text } = memoryLog();
      const t = ircTransport({ id: "irc-test", url: `irc://127.0.0.1:${short.port}/short` }, {}, log, { timeoutMs: 500 });
      made.push(t);
      await expect(t.say(line("too long a nick"))).rejects.toThrow(/the server refuses the nick openci-relay \(.+\): give the subscriber a shorter nick, e\.g\. nick: openci/);
      expect(text()).toContain("IRC server refuses the nick");
      const ok = ircTransport({ id: "irc-test", url: `irc://127.0.0.1:${short.port}/short`, nick: "openci" }, {}, log);
      made.push(ok);
      const listener = await ircListener(short, { channel: "#short", nick: "lst" });
      listeners.push(listener);
      await ok.say(line("short nick"));
      await waitFor("the line", () => from(listener, "openci").length === 1);
    } finally {
      await Promise.all(made.splice(0).map((t) => t.close()));
      await Promise.all(listeners.splice(0).map((l) => l.close()));
      await short.stop();
    }
  });

  it("close() QUITs, even while a line waits its turn; a later say() connects again", async () => {
    const { name, listener } = await channel();
    const { t } = transport(name, { lineIntervalMs: 1000 });
    await t.say(line("before"));
    const waiting = expect(t.say(line("waiting"))).rejects.toThrow(/closed before the line was said/);
    await t.close();
    await waiting;
    await waitFor("the QUIT", () => listener.lines.some((l) => /^:openci-relay!\S+ QUIT :"?OpenCI Relay closing/.test(l)));
    await t.say(line("after"));
    await waitFor("the line after", () => from(listener, "openci-relay").some((m) => m.text === "after"));
    expect(from(listener, "openci-relay").map((m) => m.text)).toEqual(["before", "after"]);
    expect(listener.lines.filter((l) => /^:openci-relay!\S+ JOIN /.test(l))).toHaveLength(2);
  });
});
