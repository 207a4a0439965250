import { z } from "zod";
import { ENV_NAME } from "./secret-env.js";

/**
 * What an irc(s):// subscriber entry may say, checked without the IRC client (src/sinks/transports/irc.ts,
 * loaded only by a process that speaks in a channel): its options and its url.
 */

export const DEFAULT_NICK = "openci-relay";
const EXAMPLE_URL = "ircs://irc.oftc.net:6697/openinfra-events";
/** RFC 2812 nick characters; 30 long at most, what the larger networks (OFTC, Libera) take. */
export const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,29}$/;

/** The options of an irc(s):// subscriber besides id/url/events/projects/attempts/private. */
export const IrcOptions = z.strictObject({
  nick: z.string()
    .regex(NICK, "must be an IRC nick: up to 30 letters, digits or - [ ] \\ ` _ ^ { | }, not starting with a digit or '-', e.g. openci-relay")
    .default(DEFAULT_NICK)
    .describe("irc(s):// subscribers: the nick the relay speaks as (default openci-relay; openci-relay_ when that is taken)."),
  password_env: z.string()
    .regex(ENV_NAME, "must name an environment variable, e.g. IRC_BOT_PASSWORD")
    .optional()
    .describe("irc(s):// subscribers: the variable holding the nick's services password: sent with SASL PLAIN when sasl is true, else to NickServ (IDENTIFY) once connected."),
  sasl: z.boolean()
    .default(false)
    .describe("irc(s):// subscribers: log in with SASL PLAIN while connecting (needs password_env); nothing is said on a server that does not log us in. Default false."),
});
export type IrcOptions = z.infer<typeof IrcOptions>;

/** What an irc(s):// subscriber entry gives the transport (options as written: defaults applied here). */
export type IrcSubscriber = { id: string; url: string } & z.input<typeof IrcOptions>;

export interface IrcTarget {
  tls: boolean;
  host: string;
  port: number;
  /** with its prefix: `#name` (or `&name` when the URL wrote `%26name`) */
  channel: string;
}

/**
 * Reads an IRC URL (draft-butcher-irc-url): `irc://host[:port]/channel` (6667) or `ircs://…` (TLS,
 * 6697), the channel written without its `#` or as `%23name`. Throws a message saying what to
 * write; the URL itself is never repeated (it could hold a password).
 */
export function parseIrcUrl(url: string): IrcTarget {
  const target = readIrcUrl(url);
  if (typeof target === "string") throw new Error(`url ${target}`);
  return target;
}

/** What is wrong with an irc(s):// URL, worded to follow "url", or undefined when it is fine. */
export function ircUrlProblem(url: string): string | undefined {
  const target = readIrcUrl(url);
  return typeof target === "string" ? target : undefined;
}

export function readIrcUrl(text: string): IrcTarget | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `is not a URL: write irc(s)://server[:port]/channel, e.g. ${EXAMPLE_URL}`;
  }
  if (url.protocol !== "irc:" && url.protocol !== "ircs:") return `must be an irc:// or ircs:// (TLS) URL, e.g. ${EXAMPLE_URL}`;
  if (url.username || url.password) {
    return `must not hold a user name or password: put the password in an environment variable and name it with password_env, e.g. { url: ${EXAMPLE_URL}, password_env: IRC_BOT_PASSWORD }`;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) return `needs a server, e.g. ${EXAMPLE_URL}`;
  const port = url.port ? Number(url.port) : url.protocol === "ircs:" ? 6697 : 6667;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `has no usable port: write one between 1 and 65535, e.g. ${EXAMPLE_URL}`;
  if (url.hash && (url.pathname === "" || url.pathname === "/")) {
    return `writes the channel after a '#', which a URL reads as a fragment: write it without its '#' (${EXAMPLE_URL}) or as %23openinfra-events`;
  }
  if (url.search || url.hash) return `must name the channel and nothing else (no ?key, no #fragment), e.g. ${EXAMPLE_URL}`;
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  } catch {
    return `has a broken %-escape in its channel, e.g. ${EXAMPLE_URL} or ircs://irc.oftc.net:6697/%23openinfra-events`;
  }
  if (!name) return `needs the channel as its path, written without its '#' or as %23name, e.g. ${EXAMPLE_URL}`;
  if (/[\s,/\p{Cc}]/u.test(name)) {
    return `must name one channel, without spaces, commas, '/' or control characters (IRC URL flags such as ,needkey are not supported), e.g. ${EXAMPLE_URL}`;
  }
  const channel = /^[#&]/.test(name) ? name : `#${name}`;
  if (channel.length < 2 || Buffer.byteLength(channel) > 50) return `has a channel name of ${Buffer.byteLength(channel)} bytes: IRC takes 1 to 49 after the '#', e.g. ${EXAMPLE_URL}`;
  return { tls: url.protocol === "ircs:", host, port, channel };
}
