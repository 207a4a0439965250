/**
 * REDIS_URL in its three forms: one server, a Redis Cluster (seed nodes) or a Sentinel-managed
 * master. ioredis reads only the first form from a URL; the other two become its options here.
 */

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { topology: "standalone"; url: string }
  | { topology: "cluster"; tls: boolean; nodes: HostPort[]; username?: string; password?: string }
  | {
      topology: "sentinel";
      tls: boolean;
      sentinels: HostPort[];
      /** the master's name, as the sentinels monitor it */
      name: string;
      /** credentials of the master (and its replicas) */
      username?: string;
      password?: string;
      /** credentials of the sentinels themselves, when they have their own */
      sentinelUsername?: string;
      sentinelPassword?: string;
    };

/** The forms, as every message about a wrong REDIS_URL names them. */
export const REDIS_URL_FORMS =
  "redis://host:port, redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername (rediss… for TLS)";

/** A REDIS_URL that cannot work; the message reads after the variable's name ("REDIS_URL must be …"). */
export class RedisUrlError extends Error {
  override name = "RedisUrlError";
}

const SCHEME = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(.*)$/is;
const DEFAULT_PORT = { cluster: 6379, sentinel: 26379 } as const;
const SENTINEL_QUERY = ["role", "sentinelUsername", "sentinelPassword"];

export function parseRedisUrl(url: string): RedisTarget {
  const m = SCHEME.exec(url);
  if (!m) throw new RedisUrlError(`must be ${REDIS_URL_FORMS}`);
  const [, scheme, topology, rest] = m as unknown as [string, string, "cluster" | "sentinel" | undefined, string];
  const tls = scheme!.toLowerCase() === "rediss";
  if (!topology) {
    if (!URL.canParse(url)) throw new RedisUrlError(`is not a valid URL: use ${REDIS_URL_FORMS}; percent-encode special characters in the password`);
    return { topology: "standalone", url };
  }
  const { userinfo, hosts, path, query } = splitMultiHost(rest);
  const credentials = parseUserinfo(userinfo);
  const example = topology === "cluster" ? `${scheme}+cluster://10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379` : `${scheme}+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster`;
  const nodes = parseHosts(hosts, DEFAULT_PORT[topology], example);

  if (topology === "cluster") {
    if (path !== "" && path !== "/" && path !== "/0") {
      throw new RedisUrlError(`selects database ${path.slice(1)}, but a Redis Cluster has only database 0: end the URL after the last host:port, e.g. ${example}`);
    }
    if (query.size > 0) throw new RedisUrlError(`has ?${[...query.keys()].join("&")}, which a redis+cluster:// URL does not take: leave the query out, e.g. ${example}`);
    return { topology, tls, nodes, ...credentials };
  }

  const name = decodeURIComponent(path.replace(/^\/+|\/+$/g, ""));
  if (name === "" || name.includes("/")) {
    throw new RedisUrlError(`must end with the one master name the sentinels monitor (sentinel monitor <name> …), e.g. ${example}`);
  }
  const unknown = [...query.keys()].filter((k) => !SENTINEL_QUERY.includes(k));
  if (unknown.length > 0) throw new RedisUrlError(`has ?${unknown.join("&")}, which a redis+sentinel:// URL does not take: use only ${SENTINEL_QUERY.join(", ")}`);
  const role = query.get("role");
  if (role !== null && role !== "master") {
    throw new RedisUrlError(`asks for role=${role}, but the relay writes and needs the master: use role=master (the default) or leave it out`);
  }
  const sentinelUsername = query.get("sentinelUsername") ?? undefined;
  const sentinelPassword = query.get("sentinelPassword") ?? undefined;
  return {
    topology, tls, sentinels: nodes, name, ...credentials,
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** The URL with any password and user name hidden, for logs and error messages (in every form). */
export function redactUrl(url: string): string {
  // The user info ends at the last '@' of the authority; hiding up to the last '@' at all errs on the safe side.
  const redacted = url.replace(/:\/\/[^]*@/, "://[redacted]@");
  return redacted.replace(/([?&][^=&#]*(?:pass|secret|token)[^=&#]*=)[^&#]*/gi, "$1[redacted]");
}

function splitMultiHost(rest: string): { userinfo: string | undefined; hosts: string; path: string; query: URLSearchParams } {
  const hashless = rest.split("#")[0]!;
  const q = hashless.indexOf("?");
  const beforeQuery = q === -1 ? hashless : hashless.slice(0, q);
  const query = new URLSearchParams(q === -1 ? "" : hashless.slice(q + 1));
  const at = beforeQuery.lastIndexOf("@");
  const userinfo = at === -1 ? undefined : beforeQuery.slice(0, at);
  const authorityAndPath = beforeQuery.slice(at + 1);
  const slash = authorityAndPath.indexOf("/");
  return {
    userinfo,
    hosts: slash === -1 ? authorityAndPath : authorityAndPath.slice(0, slash),
    path: slash === -1 ? "" : authorityAndPath.slice(slash),
    query,
  };
}

function parseUserinfo(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === "") return {};
  const colon = userinfo.indexOf(":");
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new RedisUrlError("has a user name or password that is not valid percent-encoding: encode '%' as %25");
    }
  };
  const username = decode(colon === -1 ? userinfo : userinfo.slice(0, colon));
  const password = colon === -1 ? undefined : decode(userinfo.slice(colon + 1));
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/;

function parseHosts(list: string, defaultPort: number, example: string): HostPort[] {
  const entries = list.split(",").map((s) => s.trim());
  if (entries.every((e) => e === "")) throw new RedisUrlError(`names no host: list at least one host:port, e.g. ${example}`);
  return entries.map((entry, i) => {
    const m = HOST_PORT.exec(entry);
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    // The entry itself is not quoted: with an unencoded '/', '?' or '@' in the password it may be part of it.
    const which = entries.length > 1 ? `host ${i + 1} of ${entries.length}` : "its host";
    if (!m || port < 1 || port > 65535) throw new RedisUrlError(`has ${which} not in the form host:port: separate the hosts with commas and percent-encode the password, e.g. ${example}`);
    return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
  });
}
