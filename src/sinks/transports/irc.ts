import { UnrecoverableError } from "bullmq";
import { isIP } from "node:net";
import tls from "node:tls";
import IrcFramework from "irc-framework";
import NetTransport from "irc-framework/src/transports/net.js";
import type { Logger } from "pino";
import type { ChatLine, ChatTransport } from "../transport.js";
import { DEFAULT_NICK, NICK, readIrcUrl, type IrcSubscriber, type IrcTarget } from "./irc-options.js";
import { envValue } from "./secret-env.js";

export { IrcOptions, ircUrlProblem, parseIrcUrl, type IrcSubscriber, type IrcTarget } from "./irc-options.js";

const DEFAULT_LINE_INTERVAL_MS = 2000;
const DEFAULT_TIMEOUT_MS = 60_000;
/** A server that takes the connection but never welcomes us is dropped and tried again. */
const REGISTER_TIMEOUT_MS = 30_000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** nick_, nick__, nick___: then the nick is given up on for this connection (reconnected with backoff). */
const NICK_TRIES = 3;
/** An IRC line, CR LF included (RFC 1459 2.3). */
const IRC_LINE_BYTES = 512;
/**
 * The server relays `:nick!user@host PRIVMSG #channel :text` to the channel, in the same 512
 * bytes. The user@host it will show is not known beforehand: room is kept for the longest usual one
 * (a 10-byte user name with its '~', a 63-byte host name).
 */
const USER_HOST_ROOM = 11 + 1 + 63;
const ELLIPSIS = "…";

/**
 * One line for IRC: line breaks (which would end the PRIVMSG and start another command) become
 * spaces, every other control character (NUL, CTCP's \x01, colour codes, DEL, C1) is dropped.
 */
export function oneIrcLine(text: string): string {
  return text.replace(/[\r\n\t\u2028\u2029]+/g, " ").replace(/\p{Cc}/gu, "").trim();
}

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary, ending with '…' when cut. */
export function cutToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const room = maxBytes - Buffer.byteLength(ELLIPSIS);
  let used = 0;
  let out = "";
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (used + n > room) break;
    used += n;
    out += ch;
  }
  return out + ELLIPSIS;
}

/** The PRIVMSG saying `text` to `channel` as `nick`, cut so the server's relayed copy fits its 512 bytes. */
export function privmsg(nick: string, channel: string, text: string): string {
  const command = `PRIVMSG ${channel} :`;
  const relayed = `:${nick}!@ ${command}\r\n`;
  return command + cutToBytes(text, IRC_LINE_BYTES - Buffer.byteLength(relayed) - USER_HOST_ROOM);
}

export interface IrcTransportOptions {
  /** at most one line this often per connection (default 2000 ms), as IRC servers ask of bots */
  lineIntervalMs?: number;
  /** say() rejects when its line was not sent this long after it was asked (default 60 s) */
  timeoutMs?: number;
  /** a PEM certificate authority trusted for ircs:// besides the system's (a private server's) */
  ca?: string;
}

export type IrcChat = ChatTransport & { readonly lineIntervalMs: number; readonly timeoutMs: number };

/**
 * A chat transport to one IRC channel (irc-framework underneath). Connects when it first has a line
 * to say, then stays; says at most one line per interval, in order, from a queue that loses nothing
 * when the server goes away: it reconnects with backoff, rejoins and goes on.
 */
export function ircTransport(sink: IrcSubscriber, env: NodeJS.ProcessEnv, log: Logger, o: IrcTransportOptions = {}): IrcChat {
  const what = `subscriber '${sink.id}'`;
  const target = readIrcUrl(sink.url);
  if (typeof target === "string") throw new Error(`${what}: url ${target}`);
  const nick = sink.nick ?? DEFAULT_NICK;
  if (!NICK.test(nick)) throw new Error(`${what}: nick must be an IRC nick, e.g. ${DEFAULT_NICK}`);
  const sasl = sink.sasl ?? false;
  let password: string | undefined;
  if (sink.password_env !== undefined) {
    password = envValue(env, sink.password_env);
    if (password === undefined) throw new UnrecoverableError(`${what}: password_env names ${sink.password_env}, which is not set: set it to the services password of the nick ${nick}`);
    if (/[\r\n\0]/.test(password)) throw new Error(`${what}: the value of ${sink.password_env} holds a line break or NUL: an IRC password is one line`);
  } else if (sasl) {
    throw new Error(`${what}: sasl: true needs password_env, the variable holding the password of the nick ${nick}, e.g. password_env: IRC_BOT_PASSWORD`);
  }
  return new IrcChannelSpeaker({ id: sink.id, nick, sasl, password, target }, log, {
    lineIntervalMs: o.lineIntervalMs ?? DEFAULT_LINE_INTERVAL_MS,
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ca: o.ca,
  });
}

interface Speaker {
  id: string;
  nick: string;
  sasl: boolean;
  password: string | undefined;
  target: IrcTarget;
}

interface Pending {
  text: string;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** being written now: its fate is the write's */
  writing: boolean;
  /** its time ran out while it was being written: rejected if that write fails */
  expired: boolean;
}

class IrcChannelSpeaker implements ChatTransport {
  readonly lineIntervalMs: number;
  readonly timeoutMs: number;
  private readonly ca: string[] | undefined;
  private queue: Pending[] = [];
  private client: IrcFramework.Client | undefined;
  private joined = false;
  private writing = false;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  /** connections that ended before one joined: the backoff's exponent */
  private failures = 0;
  /** the latest reason nothing can be said, for the error of a line that times out */
  private problem = "not connected yet";
  private closing = false;
  private readonly timers: { pump?: NodeJS.Timeout; reconnect?: NodeJS.Timeout; rejoin?: NodeJS.Timeout; register?: NodeJS.Timeout } = {};

  constructor(private readonly s: Speaker, private readonly log: Logger, o: { lineIntervalMs: number; timeoutMs: number; ca: string | undefined }) {
    this.lineIntervalMs = o.lineIntervalMs;
    this.timeoutMs = o.timeoutMs;
    this.ca = o.ca === undefined ? undefined : [...tls.rootCertificates, o.ca];
  }

  say(line: ChatLine): Promise<void> {
    const text = oneIrcLine(line.text);
    if (!text) {
      this.log.debug({ sink: this.s.id, key: line.key }, "IRC line is empty once made one line: nothing said");
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = { text, resolve, reject, timer: undefined, writing: false, expired: false };
      entry.timer = setTimeout(() => this.expire(entry), this.timeoutMs);
      this.queue.push(entry);
      this.closing = false;
      if (!this.client && !this.timers.reconnect) this.connect();
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const name of ["pump", "reconnect", "rejoin", "register"] as const) {
      clearTimeout(this.timers[name]);
      this.timers[name] = undefined;
    }
    for (const entry of this.queue.filter((e) => !e.writing)) {
      clearTimeout(entry.timer);
      entry.reject(new Error(`${this.where()}: closed before the line was said`));
    }
    this.queue = this.queue.filter((e) => e.writing);
    const client = this.client;
    this.client = undefined;
    this.joined = false;
    if (client) await quit(client);
  }

  private where(): string {
    const { host, port, channel } = this.s.target;
    return `subscriber '${this.s.id}' (${channel} on ${host}:${port})`;
  }

  private expire(entry: Pending): void {
    entry.timer = undefined;
    if (entry.writing) {
      entry.expired = true;
      return;
    }
    this.drop(entry, new Error(`${this.where()}: the line was not said within ${this.timeoutMs} ms (${this.problem})`));
  }

  private drop(entry: Pending, error: Error): void {
    clearTimeout(entry.timer);
    this.queue = this.queue.filter((e) => e !== entry);
    entry.reject(error);
  }

  private connect(): void {
    const { target, nick, sasl, password } = this.s;
    const client = new IrcFramework.Client();
    this.client = client;
    this.joined = false;
    let nickTries = 0;
    let loggedIn = false;
    const mine = () => this.client === client;

    client.on("nick in use", () => {
      if (!mine() || client.connected === false) return;
      if (++nickTries > NICK_TRIES) {
        this.problem = `the nicks ${nick} to ${nick}${"_".repeat(NICK_TRIES)} are all taken`;
        client.connection.end(undefined, true);
        return;
      }
      // Before registration irc-framework only reports it: the next nick is ours to ask for.
      client.user.nick = `${nick}${"_".repeat(nickTries)}`;
      client.changeNick(client.user.nick);
    });
    client.on("nick invalid", (e: { reason?: string }) => {
      if (!mine()) return;
      // Often a server whose nicks are shorter (RFC 2812 says 9): waiting would not help.
      this.problem = `the server refuses the nick ${client.user.nick} (${e.reason ?? "erroneous nickname"}): give the subscriber a shorter nick, e.g. nick: openci`;
      this.log.error({ sink: this.s.id, nick: client.user.nick, reason: e.reason }, "IRC server refuses the nick");
      client.connection.end(undefined, true);
    });
    client.on("loggedin", () => (loggedIn = true));
    client.on("sasl failed", (e: { reason: string; message?: string }) => {
      if (!mine()) return;
      this.problem = `SASL login as ${nick} failed (${e.reason}${e.message ? `: ${e.message}` : ""}): check the password and that the server offers SASL`;
      this.log.error({ sink: this.s.id, reason: e.reason }, "IRC SASL login failed: nothing is said unauthenticated");
      client.connection.end(undefined, true);
    });
    client.on("registered", () => {
      if (!mine()) return;
      clearTimeout(this.timers.register);
      if (sasl && !loggedIn) {
        this.problem = `the server did not log ${nick} in with SASL (it may not offer SASL): nothing is said unauthenticated`;
        this.log.error({ sink: this.s.id }, "IRC server registered us without a SASL login: disconnecting");
        client.quit("SASL login required");
        return;
      }
      if (password !== undefined && !sasl) client.raw(`PRIVMSG NickServ :IDENTIFY ${nick} ${password}`);
      client.join(target.channel);
    });
    client.on("join", (e: { nick: string; channel: string }) => {
      if (!mine() || !client.caseCompare(e.nick, client.user.nick) || !client.caseCompare(e.channel, target.channel)) return;
      this.joined = true;
      this.failures = 0;
      this.problem = "joined, but the lines before it took all that time";
      this.log.info({ sink: this.s.id, channel: target.channel, nick: client.user.nick }, "IRC channel joined");
      this.pump();
    });
    client.on("kick", (e: { kicked: string; channel: string; nick: string; message: string }) => {
      if (!mine() || !client.caseCompare(e.kicked, client.user.nick) || !client.caseCompare(e.channel, target.channel)) return;
      this.joined = false;
      this.problem = `kicked from ${target.channel} by ${e.nick}: ${e.message}`;
      this.log.warn({ sink: this.s.id, by: e.nick, reason: e.message }, "IRC: kicked from the channel; joining again");
      this.rejoinLater(client);
    });
    client.on("irc error", (e: { error: string; channel?: string; reason?: string }) => {
      if (!mine()) return;
      this.log.warn({ sink: this.s.id, error: e.error, channel: e.channel, reason: e.reason }, "IRC server refused a command");
      if (e.channel !== undefined && client.caseCompare(e.channel, target.channel) && !this.joined) {
        this.problem = `cannot join ${target.channel}: ${e.reason ?? e.error}`;
        this.rejoinLater(client);
      }
    });
    client.on("socket close", (error?: Error) => {
      if (!mine()) return;
      if (error) this.problem = `connection failed: ${error.message}`;
      else if (this.joined) this.problem = "the server closed the connection";
    });
    client.on("close", () => this.closed(client));

    this.timers.register = setTimeout(() => {
      if (!mine()) return;
      this.problem = `no welcome from the server within ${REGISTER_TIMEOUT_MS / 1000} s`;
      client.connection.end(undefined, true);
    }, REGISTER_TIMEOUT_MS);
    client.connect({
      host: target.host,
      port: target.port,
      tls: target.tls,
      nick,
      username: "openci",
      gecos: "OpenCI Relay",
      version: "OpenCI Relay",
      auto_reconnect: false,
      ...(sasl && password !== undefined ? { account: { account: nick, password }, sasl_disconnect_on_fail: true } : {}),
      ...(target.tls && this.ca ? { transport: CaTrustingTransport, ca: this.ca } : {}),
    });
  }

  /** The connection is gone (irc-framework's own reconnect is off): connect again after a backoff. */
  private closed(client: IrcFramework.Client): void {
    if (this.client !== client) return;
    client.removeAllListeners();
    this.client = undefined;
    this.joined = false;
    clearTimeout(this.timers.register);
    clearTimeout(this.timers.rejoin);
    clearTimeout(this.timers.pump);
    this.timers.pump = undefined;
    if (this.closing) return;
    const wait = backoff(++this.failures);
    if (this.problem === "not connected yet") this.problem = "the server closed the connection";
    this.log.warn({ sink: this.s.id, problem: this.problem, retryInMs: wait, queued: this.queue.length }, "IRC connection lost: reconnecting");
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      this.connect();
    }, wait);
  }

  private rejoinLater(client: IrcFramework.Client): void {
    clearTimeout(this.timers.rejoin);
    this.timers.rejoin = setTimeout(() => {
      if (this.client === client && client.connected) client.join(this.s.target.channel);
    }, backoff(++this.failures));
  }

  /** Writes the queue's first line when joined and its turn has come; one write at a time. */
  private pump(): void {
    const client = this.client;
    const next = this.queue[0];
    if (!next || !client || !this.joined || !client.connected || this.writing || this.timers.pump) return;
    const wait = this.lastSentAt + this.lineIntervalMs - Date.now();
    if (wait > 0) {
      this.timers.pump = setTimeout(() => {
        this.timers.pump = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.writing = true;
    next.writing = true;
    client.connection.write(privmsg(client.user.nick, this.s.target.channel, next.text), (error) => {
      this.writing = false;
      next.writing = false;
      if (error) {
        // Still queued: said after the reconnect that the connection's close starts.
        this.problem = `write failed: ${error.message}`;
        if (next.expired) this.drop(next, new Error(`${this.where()}: the line was not said within ${this.timeoutMs} ms (${this.problem})`));
        return;
      }
      this.lastSentAt = Date.now();
      clearTimeout(next.timer);
      this.queue = this.queue.filter((e) => e !== next);
      next.resolve();
      this.pump();
    });
  }
}

function backoff(failures: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures - 1, 16));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** QUIT, then waits (2 s at most) for the server to close the connection. */
function quit(client: IrcFramework.Client): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      client.removeAllListeners();
      done();
    };
    const timer = setTimeout(() => {
      client.connection.end(undefined, true);
      finish();
    }, 2000);
    if (!client.connected) {
      client.connection.end();
      finish();
      return;
    }
    client.once("close", finish);
    client.quit("OpenCI Relay closing");
  });
}

/**
 * irc-framework's TLS connect takes no CA. To trust a private one (given as `ca`) this transport
 * opens the TLS socket itself, certificate checks on, and hands it over as the library's own connect
 * does (src/transports/net.js of irc-framework 4.14.0, the version package.json pins).
 */
class CaTrustingTransport extends NetTransport {
  override connect(): void {
    const o = this.options;
    if (!o.tls || !o.ca) {
      super.connect();
      return;
    }
    this.disposeSocket();
    this.requested_disconnect = false;
    this.incoming_buffer = Buffer.alloc(0);
    this.setEncoding("utf8");
    this.state = 1; // SOCK_CONNECTING
    const socket = tls.connect({ host: o.host, port: o.port, ca: o.ca, ...(isIP(o.host) ? {} : { servername: o.host }) });
    this.socket = socket;
    this._onSocketCreate(o, socket);
  }
}
