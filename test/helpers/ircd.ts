import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/util/free-port.js";
import { loggedReady, startServerProcess } from "./server-process.js";
import { waitFor } from "./wait-for.js";

const NGIRCD = "/usr/sbin/ngircd";
export const IRCD_INSTALL_HINT = `${NGIRCD} was not found: install ngIRCd (Debian/Ubuntu: sudo apt-get install ngircd)`;

export interface TestIrcd {
  host: "127.0.0.1";
  /** plain-text port */
  port: number;
  /** TLS port, when started with { tls: true } */
  tlsPort: number | undefined;
  /** the self-signed certificate the TLS port presents (PEM): trust it as a CA */
  ca: string | undefined;
  dir: string;
  /** SIGTERM (SIGKILL after 5 s), then removes its folder: for afterAll */
  stop(): Promise<void>;
  /** SIGKILL: the server goes away at once, as in a crash; restart() brings it back */
  kill(): Promise<void>;
  /** a new ngircd on the same ports and configuration (ending the running one first, if any) */
  restart(): Promise<void>;
}

/**
 * A private ngIRCd (`ngircd -n`, in the foreground, owned by the test) on a free 127.0.0.1 port,
 * with its own configuration in a temp folder: no DNS, ident or PAM look-ups, nicks up to 30 unless
 * `maxNickLength` says otherwise (ngIRCd's default, the RFC's 9, is too short for openci-relay).
 * With `tls`, also a TLS port with a fresh self-signed certificate for 127.0.0.1.
 */
export async function startIrcd(o: { tls?: boolean; maxNickLength?: number } = {}): Promise<TestIrcd> {
  const dir = mkdtempSync(join(tmpdir(), "openci-ircd-"));
  // Started as root, ngircd runs as nobody after reading its configuration: the pid file's folder must let it write.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "run"), { mode: 0o777 });
  chmodSync(join(dir, "run"), 0o777);
  const port = await freePort();
  const tlsPort = o.tls ? await freePort() : undefined;
  let ca: string | undefined;
  if (tlsPort) {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ], { stdio: "ignore" });
    ca = readFileSync(join(dir, "cert.pem"), "utf8");
  }
  const conf = join(dir, "ngircd.conf");
  writeFileSync(conf, [
    "[Global]",
    "  Name = irc.openci.test",
    "  Info = OpenCI Relay test server",
    "  AdminInfo1 = OpenCI Relay tests",
    "  AdminInfo2 = loopback",
    "  AdminEMail = nobody@openci.test",
    "  Listen = 127.0.0.1",
    `  Ports = ${port}`,
    '  MotdPhrase = "A private test server"',
    `  PidFile = ${join(dir, "run", "ngircd.pid")}`,
    "[Limits]",
    `  MaxNickLength = ${o.maxNickLength ?? 30}`,
    "  MaxConnectionsIP = 0",
    // ngIRCd delays each new client by a second of "penalty": off, the tests wait on conditions anyway.
    "  MaxPenaltyTime = 0",
    "[Options]",
    "  DNS = no",
    "  Ident = no",
    "  PAM = no",
    ...(tlsPort ? ["[SSL]", `  CertFile = ${join(dir, "cert.pem")}`, `  KeyFile = ${join(dir, "key.pem")}`, `  Ports = ${tlsPort}`] : []),
    "",
  ].join("\n"));
  configTest(conf);

  const ports = [port, ...(tlsPort ? [tlsPort] : [])];
  const { stop, kill, restart } = await startServerProcess(dir,
    () => spawn(NGIRCD, ["-n", "-f", conf], { stdio: ["ignore", "pipe", "pipe"] }),
    // ready once it listens on every port
    (child) => loggedReady(child, (output) => ports.every((p) => output.includes(`Now listening on [127.0.0.1]:${p} `)) && / ready\.\s*$/m.test(output), {
      exited: (code, output) => `ngircd exited with code ${code} before listening on ${ports.join(", ")}:\n${output}`,
      failed: (err) => `ngircd could not start: ${err.message}. ${IRCD_INSTALL_HINT}`,
    }));
  return { host: "127.0.0.1", port, tlsPort, ca, dir, stop, kill, restart };
}

/** `ngircd --configtest`: a configuration it reads differently from what was meant fails here, loudly. */
function configTest(conf: string): void {
  let out: string;
  try {
    out = execFileSync(NGIRCD, ["--configtest", "-f", conf], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error(IRCD_INSTALL_HINT);
    throw new Error(`ngircd --configtest refused ${conf}: ${(error as { stdout?: string }).stdout ?? (error as Error).message}`);
  }
  if (!out.includes("Ok, dump of your server configuration follows")) throw new Error(`ngircd --configtest did not accept ${conf}:\n${out}`);
}

export interface ReceivedMessage {
  /** the sender's nick */
  from: string;
  /** a channel, or the listener's nick */
  to: string;
  text: string;
  /** the line as the server sent it, without CR LF */
  raw: string;
  /** Date.now() when it arrived */
  at: number;
}

/** A plain IRC client (a raw socket, independent of the relay's irc-framework) that records what it is told. */
export interface IrcListener {
  nick: string;
  /** every PRIVMSG it received, in order, across reconnects */
  messages: ReceivedMessage[];
  /** every line the server sent it */
  lines: string[];
  send(line: string): void;
  /** the nicks in its channel now (NAMES) */
  names(): Promise<string[]>;
  /** connects again (after the server restarted) and rejoins its channel */
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

/** Connects as `nick` (default "listener") and, given a channel, joins it; resolves once joined (or welcomed). */
export async function ircListener(server: { host: string; port: number }, o: { nick?: string; channel?: string } = {}): Promise<IrcListener> {
  const nick = o.nick ?? "listener";
  const messages: ReceivedMessage[] = [];
  const lines: string[] = [];
  let socket: Socket | undefined;

  const open = async () => {
    const from = lines.length;
    const s = connect({ host: server.host, port: server.port });
    socket = s;
    s.setEncoding("utf8");
    let buffer = "";
    s.on("data", (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, "");
        buffer = buffer.slice(end + 1);
        lines.push(line);
        if (line.startsWith("PING ")) s.write(`PONG ${line.slice(5)}\r\n`);
        const m = /^:([^!\s]+)\S* PRIVMSG (\S+) :(.*)$/.exec(line);
        if (m) messages.push({ from: m[1]!, to: m[2]!, text: m[3]!, raw: line, at: Date.now() });
      }
    });
    s.on("error", () => {});
    await new Promise<void>((ok, fail) => {
      s.once("connect", ok);
      s.once("error", fail);
    });
    s.write(`NICK ${nick}\r\nUSER listener 0 * :OpenCI test listener\r\n`);
    const since = (re: RegExp) => lines.slice(from).some((l) => re.test(l));
    await waitFor(`the IRC server to welcome ${nick}`, () => since(new RegExp(`^:\\S+ 001 ${escape(nick)} `)), 5000);
    if (o.channel) {
      s.write(`JOIN ${o.channel}\r\n`);
      await waitFor(`${nick} to join ${o.channel}`, () => since(new RegExp(`^:\\S+ 366 ${escape(nick)} ${escape(o.channel!)} `, "i")), 5000);
    }
  };
  const close = async () => {
    const s = socket;
    socket = undefined;
    if (!s || s.destroyed) return;
    const closed = new Promise<void>((done) => s.once("close", () => done()));
    s.end("QUIT :bye\r\n");
    const timer = setTimeout(() => s.destroy(), 1000);
    await closed;
    clearTimeout(timer);
  };

  await open();
  return {
    nick,
    messages,
    lines,
    send: (line) => socket?.write(`${line}\r\n`),
    names: async () => {
      if (!o.channel) throw new Error("this listener joined no channel");
      const from = lines.length;
      socket?.write(`NAMES ${o.channel}\r\n`);
      const end = new RegExp(`^:\\S+ 366 ${escape(nick)} ${escape(o.channel)} `, "i");
      await waitFor(`NAMES ${o.channel}`, () => lines.slice(from).some((l) => end.test(l)), 5000);
      return lines.slice(from)
        .filter((l) => / 353 /.test(l))
        .flatMap((l) => l.slice(l.indexOf(" :", 1) + 2).split(" "))
        .filter(Boolean)
        .map((n) => n.replace(/^[@+%~&]+/, ""));
    },
    reconnect: async () => {
      socket?.destroy();
      await open();
    },
    close,
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
