import { StringDecoder } from "node:string_decoder";
import type { Logger } from "pino";
import type { Client } from "ssh2";
import { z } from "zod";
import { ForgeError } from "./errors.js";

/**
 * Gerrit's event stream (Documentation/cmd-stream-events.txt, json.txt): `gerrit stream-events` run
 * over SSH (port 29418) as an account with the Stream Events capability, which writes one JSON
 * object per line for as long as the connection lasts. The stream has no replay: what happens while
 * it is down is lost, so it only hastens what the tag poller finds anyway, and the relay keeps polling.
 *
 * Three kinds of event matter, each turned into a `GerritEvent`:
 * - `ref-updated` of a `refs/tags/*` ref to a non-zero revision: a tag created or moved (an annotated
 *   tag's new revision is the tag object, so its commit is read with GerritSource.resolveTag). A
 *   deletion (new revision all zeros) is ignored, and so is a `refName` without `refs/`: servers
 *   before 2.14 name branches that way, never tags.
 * - `patchset-created`: a new change or a new patch set (third-party CI runs on it).
 * - `comment-added` whose cover message, less the `Patch Set N: …` line Gerrit puts first, is
 *   `recheck` (case and surrounding space aside): run that patch set again.
 * Anything else is ignored; a line that is not JSON or not shaped as documented is logged and skipped.
 */

/**
 * ssh2's client, imported when a stream is first opened: a relay with no Gerrit stream (or a process
 * that runs none) never loads the library. A failed import (a dependency missing from node_modules)
 * rejects with an error naming it, and the next attempt tries again.
 *
 * A caller that can wait loads it first (gerrit-streams.ts does): watchGerritStream then connects at
 * once, and a key ssh2 cannot read throws from watchGerritStream itself. Without it, the first
 * connection waits for the import, and what it would have thrown is logged as an error instead: the
 * stream gives up (the same key would be refused again).
 */
let sshClient: typeof Client | undefined;
let loadingSsh: Promise<typeof Client> | undefined;
export function loadSshClient(): Promise<typeof Client> {
  if (sshClient) return Promise.resolve(sshClient);
  loadingSsh ??= import("ssh2").then(
    (module) => (sshClient = module.default.Client),
    (error: unknown) => {
      loadingSsh = undefined;
      throw new Error(`its client library (ssh2) failed to import: ${(error as Error)?.message ?? String(error)}; reinstall the relay's dependencies (npm ci)`, { cause: error });
    },
  );
  return loadingSsh;
}

export const GERRIT_SSH_PORT = 29418;
/** what the client subscribes to (`-s`), so the server sends nothing else */
export const STREAM_COMMAND = "gerrit stream-events -s ref-updated -s patchset-created -s comment-added";

interface ChangeFields {
  project: string;
  branch: string;
  /** the change's number */
  change: number;
  /** the Change-Id footer (I…), when the server sends it */
  changeId: string | undefined;
  url: string | undefined;
  patchSet: number;
  /** refs/changes/NN/NNNN/P: what a downstream fetches */
  ref: string;
  /** the patch set's commit */
  revision: string;
}

export type GerritEvent =
  | {
    type: "tag"; project: string; tag: string;
    /** the ref's new value: the commit of a lightweight tag, the tag object of an annotated one */
    sha: string;
    /** its old value; undefined for a new tag */
    previous: string | undefined;
    submitter: string | undefined;
    /** seconds since the epoch, when the server says */
    createdOn: number | undefined;
  }
  | (ChangeFields & {
    type: "patchset";
    /** REWORK, TRIVIAL_REBASE, NO_CODE_CHANGE, … (json.txt); undefined from older servers */
    kind: string | undefined;
    uploader: string | undefined;
    createdOn: number | undefined;
  })
  | (ChangeFields & { type: "recheck"; author: string | undefined; createdOn: number | undefined });

/** Older servers (before 2.14) send numbers as strings. */
const Num = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]);
const Account = z.object({ name: z.string().optional(), email: z.string().optional(), username: z.string().optional() }).optional();
const Change = z.object({ project: z.string(), branch: z.string(), id: z.string().optional(), number: Num, url: z.string().optional() });
const PatchSet = z.object({ number: Num, revision: z.string(), ref: z.string(), kind: z.string().optional() });
const RefUpdate = z.object({ oldRev: z.string(), newRev: z.string(), refName: z.string(), project: z.string() });
const CreatedOn = Num.optional();

const Typed = z.object({ type: z.string() });
const RefUpdated = z.object({ refUpdate: RefUpdate, submitter: Account, eventCreatedOn: CreatedOn });
const PatchsetCreated = z.object({ change: Change, patchSet: PatchSet, uploader: Account, eventCreatedOn: CreatedOn });
const CommentAdded = z.object({ change: Change, patchSet: PatchSet, author: Account, comment: z.string(), eventCreatedOn: CreatedOn });

export type ParsedLine =
  | { kind: "event"; event: GerritEvent }
  /** a well-formed event the relay has no use for: its type and why */
  | { kind: "ignored"; type: string; why: string }
  | { kind: "bad"; why: string };

const ZERO = /^0+$/;
const who = (a: z.infer<typeof Account>): string | undefined => a?.username ?? a?.email ?? a?.name;

/** One line of the stream, read. */
export function parseStreamLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: "bad", why: "not JSON" };
  }
  const typed = Typed.safeParse(value);
  if (!typed.success) return { kind: "bad", why: "no event type" };
  const type = typed.data.type;
  const shaped = <T>(schema: z.ZodType<T>): T | string => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    const first = r.error.issues[0];
    return `a ${type} event without ${first ? first.path.join(".") || "its fields" : "its fields"}`;
  };
  switch (type) {
    case "ref-updated": {
      const e = shaped(RefUpdated);
      if (typeof e === "string") return { kind: "bad", why: e };
      const u = e.refUpdate;
      if (!u.refName.startsWith("refs/tags/")) return { kind: "ignored", type, why: u.refName.startsWith("refs/") ? "not a tag" : "an older server's branch name" };
      if (ZERO.test(u.newRev)) return { kind: "ignored", type, why: "a tag deleted" };
      return {
        kind: "event",
        event: {
          type: "tag", project: u.project, tag: u.refName.slice("refs/tags/".length), sha: u.newRev,
          previous: ZERO.test(u.oldRev) ? undefined : u.oldRev, submitter: who(e.submitter), createdOn: e.eventCreatedOn,
        },
      };
    }
    case "patchset-created": {
      const e = shaped(PatchsetCreated);
      if (typeof e === "string") return { kind: "bad", why: e };
      return { kind: "event", event: { type: "patchset", ...changeFields(e), kind: e.patchSet.kind, uploader: who(e.uploader), createdOn: e.eventCreatedOn } };
    }
    case "comment-added": {
      const e = shaped(CommentAdded);
      if (typeof e === "string") return { kind: "bad", why: e };
      if (!isRecheck(e.comment)) return { kind: "ignored", type, why: "not a recheck" };
      return { kind: "event", event: { type: "recheck", ...changeFields(e), author: who(e.author), createdOn: e.eventCreatedOn } };
    }
    default:
      return { kind: "ignored", type, why: "not an event the relay uses" };
  }
}

function changeFields(e: { change: z.infer<typeof Change>; patchSet: z.infer<typeof PatchSet> }): ChangeFields {
  return {
    project: e.change.project, branch: e.change.branch, change: e.change.number, changeId: e.change.id, url: e.change.url,
    patchSet: e.patchSet.number, ref: e.patchSet.ref, revision: e.patchSet.revision,
  };
}

/** The cover message, less Gerrit's first line `Patch Set N:` (with any votes after it), is `recheck`. */
export function isRecheck(comment: string): boolean {
  const lines = comment.split(/\r?\n/);
  const body = /^Patch Set \d+:/.test(lines[0] ?? "") ? lines.slice(1).join("\n") : comment;
  return body.trim().toLowerCase() === "recheck";
}

export interface BackoffOptions {
  /** the first wait after a lost connection (default 1 s) */
  initialMs?: number;
  /** the longest wait (default 60 s) */
  maxMs?: number;
  /** a connection that lasted this long starts the waits again from `initialMs` (default 60 s) */
  resetAfterMs?: number;
}

export const STREAM_BACKOFF = { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 60_000 } as const;

/** The wait before reconnect attempt `failures` (1 after the first failure): doubling from `initialMs`, at most `maxMs`. */
export function reconnectDelay(failures: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? STREAM_BACKOFF.initialMs;
  const max = o.maxMs ?? STREAM_BACKOFF.maxMs;
  return Math.min(max, initial * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

export interface GerritStreamOptions {
  host: string;
  /** default 29418 */
  port?: number | undefined;
  user: string;
  /** the account's private key (OpenSSH or PEM) */
  privateKey: string | Buffer;
  passphrase?: string | undefined;
  /**
   * The server's host key as `known_hosts` writes it ("ssh-ed25519 AAAA…"). Without it, the first key
   * seen is trusted for the watcher's lifetime and a different one later is refused.
   */
  hostKey?: string | undefined;
  log: Logger;
  /** each event, in order; a returned promise is awaited before the next event is handed over */
  onEvent: (event: GerritEvent) => void | Promise<void>;
  backoff?: BackoffOptions | undefined;
  /** how long to wait for the SSH handshake (default 20 s) */
  readyTimeoutMs?: number | undefined;
  /** SSH keepalives, so a dead connection is noticed (default every 30 s; 3 unanswered close it) */
  keepaliveIntervalMs?: number | undefined;
  /** how long the command must have run without ending (or an event must have come) to count as connected (default 500 ms) */
  upAfterMs?: number | undefined;
}

export interface GerritStream {
  /** Closes the connection, stops reconnecting, and waits for the events already read to be handed over. */
  stop(): Promise<void>;
}

/** How long `gerrit stream-events` must have run without ending before the stream counts as connected. */
const UP_AFTER_MS = 500;

/** The longest line kept (an event is a few kilobytes; a change with a huge commit message is cut, and skipped). */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * Keeps `gerrit stream-events` running: connects, hands each event to `onEvent`, and after any loss
 * reconnects after 1 s, 2 s, 4 s … at most 60 s (reset once a connection lasted 60 s). It logs a
 * connect and a disconnect once each, and an error (a refused key, a missing capability) once until
 * it changes, never the same line at every attempt.
 */
export function watchGerritStream(o: GerritStreamOptions): GerritStream {
  const port = o.port ?? GERRIT_SSH_PORT;
  const where = `${o.user}@${o.host}:${port}`;
  const log = o.log.child({ gerrit: `${o.host}:${port}` });
  const pinned = o.hostKey ? hostKeyBlob(o.hostKey) : undefined;
  let trusted: Buffer | undefined = pinned;
  let stopped = false;
  let failures = 0;
  let wasUp = false;
  let down = false;
  let lastProblem: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let current: Client | undefined;
  let closed: Promise<void> = Promise.resolve();
  let delivering: Promise<void> = Promise.resolve();

  const deliver = (line: string) => {
    const parsed = parseStreamLine(line);
    if (parsed.kind === "bad") {
      log.warn({ why: parsed.why, line: line.slice(0, 200) }, "skipping a stream-events line the relay cannot read");
      return;
    }
    if (parsed.kind === "ignored") {
      if (parsed.type === "dropped-output") log.warn("Gerrit dropped stream events for this client (it read too slowly); the tag poller finds what was missed");
      return;
    }
    const event = parsed.event;
    delivering = delivering.then(() => o.onEvent(event)).catch((err: unknown) => log.error({ err, event }, "handling a Gerrit event failed"));
  };

  const problem = (e: ForgeError) => {
    if (e.message === lastProblem) return;
    lastProblem = e.message;
    const fields = { err: { message: e.message, kind: e.kind }, hint: e.hint };
    if (e.kind === "config") log.error(fields, `Gerrit stream-events ${where}: ${e.message}`);
    else log.warn(fields, `Gerrit stream-events ${where}: ${e.message}`);
  };

  const connect = () => {
    timer = undefined;
    if (stopped) return;
    if (!sshClient) {
      // as a connection that failed: said once, tried again after the backoff
      const failed = (error: Error) => {
        if (stopped) return;
        failures++;
        problem(new ForgeError(`cannot open an SSH connection: ${error.message}`, "config", { cause: error }));
        timer = setTimeout(connect, reconnectDelay(failures, o.backoff));
      };
      loadSshClient().then(() => {
        try {
          connect();
        } catch (error) {
          // what watchGerritStream throws when ssh2 is loaded (a key it cannot read): nothing was opened
          current = undefined;
          closed = Promise.resolve();
          stopped = true;
          problem(new ForgeError(`cannot open an SSH connection: ${(error as Error).message}; the stream is not followed`, "config", { cause: error }));
        }
      }, failed);
      return;
    }
    const client = new sshClient();
    current = client;
    let connectedAt: number | undefined;
    let failure: ForgeError | undefined;
    let stderr = "";
    let exitCode: number | undefined;
    let upTimer: NodeJS.Timeout | undefined;
    let resolveClosed!: () => void;
    closed = new Promise((r) => (resolveClosed = r));
    const up = () => {
      clearTimeout(upTimer);
      if (connectedAt !== undefined) return;
      connectedAt = Date.now();
      if (!wasUp) log.info(`connected to Gerrit stream-events as ${where}`);
      else if (down) log.info({ attempts: failures }, `reconnected to Gerrit stream-events as ${where}`);
      wasUp = true;
      down = false;
      lastProblem = undefined;
    };

    client.on("ready", () => {
      client.exec(STREAM_COMMAND, (err, channel) => {
        if (err) {
          failure = new ForgeError(`the server refused to run gerrit stream-events (${err.message})`, "transient", { cause: err });
          client.end();
          return;
        }
        const decoder = new StringDecoder("utf8");
        let pending = "";
        let skipping = false;
        channel.on("data", (chunk: Buffer) => {
          up();
          pending += decoder.write(chunk);
          for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
            const line = pending.slice(0, nl).replace(/\r$/, "");
            pending = pending.slice(nl + 1);
            if (skipping) skipping = false;
            else if (line.trim()) deliver(line);
          }
          if (pending.length > MAX_LINE) {
            log.warn({ bytes: pending.length }, "skipping a stream-events line longer than the relay reads");
            pending = "";
            skipping = true;
          }
        });
        channel.stderr.on("data", (chunk: Buffer) => {
          if (stderr.length < 4096) stderr += chunk.toString("utf8");
        });
        channel.on("exit", (code: number | null) => {
          exitCode = code ?? undefined;
        });
        channel.on("close", () => client.end());
        // The command says nothing until an event happens: still running a moment after it started
        // (a refused one ends at once, with its reason on stderr) is being connected.
        upTimer = setTimeout(up, o.upAfterMs ?? UP_AFTER_MS);
      });
    });
    client.on("error", (err: Error & { level?: string }) => {
      failure ??= classify(err, o.user);
    });
    client.on("close", () => {
      clearTimeout(upTimer);
      resolveClosed();
      if (current === client) current = undefined;
      if (stopped) return;
      if (exitCode !== undefined && exitCode !== 0) {
        failure ??= new ForgeError(`gerrit stream-events ended with status ${exitCode}: ${stderr.trim().slice(0, 300) || "no message"}`, "config", {
          hint: /capabilit|not permitted|not allowed/i.test(stderr)
            ? `give the account ${o.user} the global Stream Events capability (or use an account that has it)`
            : "the Gerrit server refused the command: check that it is a Gerrit SSH port (29418 by default) and that the account is active",
        });
      }
      if (connectedAt !== undefined && Date.now() - connectedAt >= (o.backoff?.resetAfterMs ?? STREAM_BACKOFF.resetAfterMs)) failures = 0;
      failures++;
      if (connectedAt !== undefined && !down) log.warn(`disconnected from Gerrit stream-events as ${where}; reconnecting (events until then are lost; the tag poller finds the tags)`);
      down = true;
      if (failure) problem(failure);
      timer = setTimeout(connect, reconnectDelay(failures, o.backoff));
    });

    client.connect({
      host: o.host, port, username: o.user, privateKey: o.privateKey, passphrase: o.passphrase,
      readyTimeout: o.readyTimeoutMs ?? 20_000,
      keepaliveInterval: o.keepaliveIntervalMs ?? 30_000, keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        if (!trusted) {
          trusted = Buffer.from(key);
          return true;
        }
        if (trusted.equals(key)) return true;
        failure = new ForgeError(`the SSH host key of ${o.host}:${port} is not the ${pinned ? "one the map pins" : "one it showed before"}`, "config", {
          hint: pinned ? "if the server's key really changed, update the pinned host key" : "if the server's key really changed, restart the relay; otherwise something is between the relay and Gerrit",
        });
        return false;
      },
    });
  };

  connect();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const client = current;
      if (client) {
        client.end();
        const slow = setTimeout(() => client.destroy(), 2_000);
        await closed;
        clearTimeout(slow);
      }
      await delivering;
    },
  };
}

function classify(err: Error & { level?: string }, user: string): ForgeError {
  if (err.level === "client-authentication") {
    return new ForgeError(`the Gerrit SSH server refused the key of ${user}`, "config", {
      cause: err,
      hint: "check the map entry's ssh user_env / key_env: the account's username (not its e-mail) and a private key whose public half is in its Gerrit SSH keys",
    });
  }
  if (err.level === "client-timeout") return new ForgeError(`no SSH handshake within the timeout (${err.message})`, "transient", { cause: err });
  const code = (err as { code?: string }).code;
  return new ForgeError(`SSH connection failed (${code ?? err.message})`, "transient", { cause: err });
}

/** The key blob of a known_hosts-style line ("ssh-ed25519 AAAA… [comment]"), as ssh2 hands it to hostVerifier. */
function hostKeyBlob(line: string): Buffer {
  const b64 = line.trim().split(/\s+/)[1];
  const blob = b64 ? Buffer.from(b64, "base64") : Buffer.alloc(0);
  if (blob.length < 16) throw new ForgeError(`${JSON.stringify(line.slice(0, 40))} is not an SSH public key line`, "config", { hint: "give the host key as ssh-keyscan prints it: \"ssh-ed25519 AAAA…\"" });
  return blob;
}
