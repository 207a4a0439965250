import { isLoopback } from "../artifacts/purl.js";

/**
 * A `git:` location: the address `git clone` takes over https (http only on this machine's
 * loopback, for a local or test host, as for a registry's repository_url). Said the same way the
 * watcher reads it (src/watch/git-refs.ts): no credentials, no query, no fragment.
 */
const HINT = "write the address you would `git clone` over https, e.g. git: https://opendev.org/openstack/nova";

/** What is wrong with `text` as a git location, or undefined when it is fine. */
export function gitUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `is not a URL: ${HINT}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `has the scheme ${url.protocol}//; only https git URLs can be watched: ${HINT}`;
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    return "asks for http:// on a host other than this machine: use https:// (plain http is accepted only on loopback: localhost, 127.0.0.1, [::1])";
  }
  if (url.username || url.password) return "must not carry credentials (user:password@): the relay reads public repositories only, anonymously";
  if (url.search || url.hash) return `must have no ?query or #fragment: ${HINT}`;
  if (url.pathname.replace(/\/+$/, "") === "") return `names a host but no repository: ${HINT}`;
  return undefined;
}

/** The URL as the relay keeps it: trailing slashes dropped, host lower-cased (URL does that). */
export function normaliseGitUrl(text: string): string {
  const url = new URL(text);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** The same repository however it is written: with or without `.git`, in any case. */
export function gitUrlKey(url: string): string {
  return url.toLowerCase().replace(/\/+$/, "").replace(/\.git$/, "");
}

/**
 * A server the relay sends credentials to (Gerrit, Jenkins, Zuul): https, or http on loopback only;
 * no credentials, query or fragment in the URL (they go in *_env variables). Undefined when fine.
 */
export function serverUrlProblem(text: string, example: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `is not a URL: write the server's address, e.g. ${example}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `has the scheme ${url.protocol}//: write the server's https address, e.g. ${example}`;
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    return "asks for http:// on a host other than this machine: use https:// (credentials would cross the network in clear; plain http is accepted only on loopback)";
  }
  if (url.username || url.password) return "must not carry credentials (user:password@): name the variables holding them (user_env, password_env / token_env)";
  if (url.search || url.hash) return `must have no ?query or #fragment, e.g. ${example}`;
  return undefined;
}
