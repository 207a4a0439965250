import type { AddressInfo } from "node:net";
import ssh2 from "ssh2";
import type { FakeGerrit } from "./fake-gerrit.js";
import type { StreamEvent } from "./events.js";
import { sshKeyPair } from "../../helpers/keys.js";

/**
 * A fake of Gerrit's SSH daemon on loopback (a real SSH server: ssh2's Server, an ed25519 host key
 * made at start), answering only what Documentation/cmd-stream-events.txt describes: public-key
 * authentication of one account, and the command `gerrit stream-events [-s TYPE]…`, which keeps the
 * channel open and writes one JSON event per line. Any other command, option or channel request is a
 * `problem` and refused (exit status 1 with `fatal: …` on stderr, as Gerrit's commands fail).
 * `dropAll()` cuts every connection, as a restart or a network failure does.
 */

const { Server, utils } = ssh2;
type ServerConnection = Parameters<ConstructorParameters<typeof Server>[1] & object>[0];
type ServerChannelLike = { write(s: string): boolean; stderr: { write(s: string): boolean }; exit(code: number): void; end(): void; on(e: "close", f: () => void): unknown };

export interface FakeGerritSshOptions {
  /** the account's username */
  user: string;
  /** its public key as `ssh-keygen` writes it ("ssh-ed25519 AAAA…") */
  publicKey: string;
  /** whether the account has the Stream Events global capability (default true) */
  streamEvents?: boolean;
  /** stream the events this fake Gerrit's changes produce */
  gerrit?: FakeGerrit;
}

export interface StreamSession {
  user: string;
  /** the event types subscribed with -s (empty: all) */
  subscribed: string[];
  channel: ServerChannelLike;
}

export interface AuthAttempt {
  user: string;
  method: string;
  accepted: boolean;
}

export class FakeGerritSsh {
  readonly problems: string[] = [];
  readonly commands: { user: string; command: string }[] = [];
  readonly auth: AuthAttempt[] = [];
  /** every line written to the streams, in order */
  readonly written: string[] = [];
  private readonly sessions = new Set<StreamSession>();
  private readonly connections = new Set<ServerConnection>();
  private readonly server: InstanceType<typeof Server>;
  /** the host key's public half, "ssh-ed25519 AAAA…" (as a known_hosts line carries it) */
  readonly hostPublicKey: string;
  private unsubscribe: (() => void) | undefined;

  private constructor(private readonly o: FakeGerritSshOptions) {
    const host = sshKeyPair();
    this.hostPublicKey = host.public.trim();
    const allowed = utils.parseKey(o.publicKey);
    if (allowed instanceof Error) throw allowed;
    const key = Array.isArray(allowed) ? allowed[0]! : allowed;
    this.server = new Server({ hostKeys: [host.private] }, (client) => {
      this.connections.add(client);
      let user = "";
      client.on("authentication", (ctx) => {
        user = ctx.username;
        const ok = ctx.method === "publickey" && ctx.username === o.user && ctx.key.algo === key.type && ctx.key.data.equals(key.getPublicSSH())
          && (!ctx.signature || (ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true));
        // A key check without a signature is a question, not a login: only a signed attempt counts.
        if (ctx.method !== "publickey" || ctx.signature || !ok) this.auth.push({ user: ctx.username, method: ctx.method, accepted: ok });
        if (ok) ctx.accept();
        else ctx.reject(["publickey"]);
      });
      client.on("ready", () => {
        client.on("session", (accept) => {
          const session = accept();
          session.on("exec", (acceptExec, _reject, info) => this.exec(user, info.command, acceptExec() as unknown as ServerChannelLike));
          session.on("pty", (_a, reject) => this.refuse(reject, `${user}: a pty request`));
          session.on("shell", (_a, reject) => this.refuse(reject, `${user}: an interactive shell`));
          session.on("subsystem", (_a, reject, info) => this.refuse(reject, `${user}: subsystem ${info.name}`));
          session.on("env", (_a, reject, info) => this.refuse(reject, `${user}: env ${info.key}`));
        });
        client.on("tcpip", (_a, reject) => this.refuse(reject, `${user}: port forwarding`));
      });
      client.on("error", () => undefined); // a dropped client; its close follows
      client.on("close", () => this.connections.delete(client));
    });
  }

  static async start(o: FakeGerritSshOptions): Promise<FakeGerritSsh> {
    const fake = new FakeGerritSsh(o);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    if (o.gerrit) fake.unsubscribe = o.gerrit.onEvent((e) => fake.emit(e));
    return fake;
  }

  get host(): string {
    return "127.0.0.1";
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** stream-events sessions open now */
  get streams(): number {
    return this.sessions.size;
  }

  /** SSH connections open now */
  get open(): number {
    return this.connections.size;
  }

  /**
   * Writes an event (or a raw line, to test what a client does with one it cannot read) to every
   * stream that subscribed to its type. Gerrit tells a slow client it lost events with `dropped-output`
   * whatever it subscribed to.
   */
  emit(event: StreamEvent | string): void {
    const line = typeof event === "string" ? event : JSON.stringify(event);
    const type = typeof event === "string" ? undefined : event.type;
    for (const s of this.sessions) {
      if (type !== undefined && type !== "dropped-output" && s.subscribed.length > 0 && !s.subscribed.includes(type)) continue;
      s.channel.write(`${line}\n`);
    }
    this.written.push(line);
  }

  /** Cuts every connection at once (a Gerrit restart, a network failure). */
  dropAll(): void {
    for (const c of this.connections) c.end();
    this.sessions.clear();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.dropAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private refuse(reject: (() => void) | undefined, what: string): void {
    this.problems.push(`gerrit ssh: ${what}: the fake answers only gerrit stream-events`);
    reject?.();
  }

  private exec(user: string, command: string, channel: ServerChannelLike): void {
    this.commands.push({ user, command });
    const fail = (message: string, problem: boolean) => {
      if (problem) this.problems.push(`gerrit ssh: ${user}: ${JSON.stringify(command)}: ${message}`);
      channel.stderr.write(`fatal: ${message}\n`);
      channel.exit(1);
      channel.end();
    };
    const words = command.trim().split(/\s+/);
    if (words[0] !== "gerrit" || words[1] !== "stream-events") return fail(`${words.slice(0, 2).join(" ")}: not found (the fake answers only gerrit stream-events)`, true);
    const subscribed: string[] = [];
    for (let i = 2; i < words.length; i++) {
      const w = words[i]!;
      if ((w === "-s" || w === "--subscribe") && words[i + 1]) subscribed.push(words[++i]!);
      else return fail(`"${w}" is not an option of gerrit stream-events (--subscribe|-s TYPE)`, true);
    }
    if (this.o.streamEvents === false) {
      // Gerrit's own wording (sshd's DispatchCommand): the capability's id in quotes.
      channel.stderr.write(`fatal: ${user} does not have "streamEvents" capability.\n`);
      channel.exit(3);
      channel.end();
      return;
    }
    const session: StreamSession = { user, subscribed, channel };
    this.sessions.add(session);
    channel.on("close", () => this.sessions.delete(session));
  }
}
