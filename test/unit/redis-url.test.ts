import { describe, expect, it } from "@jest/globals";
import { ConfigError, parseEnv } from "../../src/config/env.js";
import { parseRedisUrl, redactUrl, RedisUrlError } from "../../src/redis/redis-url.js";
import { appPrivateKey } from "../helpers/keys.js";

function problem(url: string): string {
  try {
    parseRedisUrl(url);
  } catch (e) {
    if (e instanceof RedisUrlError) return e.message;
    throw e;
  }
  throw new Error(`accepted ${url}`);
}

describe("REDIS_URL forms", () => {
  it.each([
    "redis://127.0.0.1:6379",
    "rediss://:secret@redis.example.org:6380/2",
    "redis://localhost",
  ])("%s is one server, handed to ioredis as written", (url) => {
    expect(parseRedisUrl(url)).toEqual({ topology: "standalone", url });
  });

  it("redis+cluster:// lists the seed nodes, with the credentials every node takes", () => {
    const target = parseRedisUrl("redis+cluster://relay:p%40ss@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/");

    expect(target).toEqual({
      topology: "cluster", tls: false, username: "relay", password: "p@ss",
      nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "10.0.0.2", port: 7001 }, { host: "::1", port: 7002 }],
    });
  });

  it("rediss+cluster:// is a cluster over TLS; a node without a port is on 6379", () => {
    expect(parseRedisUrl("rediss+cluster://:only-password@cache.example.org")).toEqual({
      topology: "cluster", tls: true, password: "only-password", nodes: [{ host: "cache.example.org", port: 6379 }],
    });
  });

  it("redis+sentinel:// lists the sentinels (26379 by default) and names the master", () => {
    const target = parseRedisUrl("redis+sentinel://:pw@s1.example.org:26380,s2.example.org/relay-master?role=master&sentinelPassword=sp");

    expect(target).toEqual({
      topology: "sentinel", tls: false, name: "relay-master", password: "pw", sentinelPassword: "sp",
      sentinels: [{ host: "s1.example.org", port: 26380 }, { host: "s2.example.org", port: 26379 }],
    });
  });

  it("rediss+sentinel:// is Sentinel over TLS", () => {
    expect(parseRedisUrl("rediss+sentinel://10.0.0.1:26379/mymaster")).toMatchObject({ topology: "sentinel", tls: true, name: "mymaster" });
  });

  it.each([
    ["an unknown scheme", "http://127.0.0.1:6379", "must be redis://host:port, redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/mastername"],
    ["no scheme", "127.0.0.1:6379", "must be redis://host:port"],
    ["a port that is not a number", "redis://127.0.0.1:abc", "is not a valid URL"],
    ["a cluster without hosts", "redis+cluster://", "names no host: list at least one host:port, e.g. redis+cluster://10.0.0.1:6379"],
    ["a cluster with a space for a comma", "redis+cluster://10.0.0.1:7000 10.0.0.2:7001", "has its host not in the form host:port"],
    ["a cluster with a bad second host", "redis+cluster://10.0.0.1:7000,10.0.0.2:port", "has host 2 of 2 not in the form host:port"],
    ["a port out of range", "redis+cluster://10.0.0.1:70000", "not in the form host:port"],
    ["a cluster with a database", "redis+cluster://10.0.0.1:7000/3", "selects database 3, but a Redis Cluster has only database 0"],
    ["a cluster with options", "redis+cluster://10.0.0.1:7000?tls=true", "which a redis+cluster:// URL does not take"],
    ["a sentinel without a master name", "redis+sentinel://10.0.0.1:26379", "must end with the one master name the sentinels monitor"],
    ["a sentinel asking for a replica", "redis+sentinel://10.0.0.1:26379/mymaster?role=slave", "the relay writes and needs the master: use role=master"],
    ["a sentinel with an unknown option", "redis+sentinel://10.0.0.1:26379/mymaster?db=2", "use only role, sentinelUsername, sentinelPassword"],
    ["a broken percent-encoding", "redis+cluster://user:100%@10.0.0.1:7000", "encode '%' as %25"],
  ])("%s is refused with how to write it", (_what, url, expected) => {
    expect(problem(url)).toContain(expected);
  });

  it("never quotes a host that may be part of an unencoded password", () => {
    expect(problem("redis+cluster://relay:hunter?2@10.0.0.1:7000")).not.toContain("hunter");
  });
});

describe("redactUrl", () => {
  it.each([
    ["redis://:hunter2@127.0.0.1:6379/0", "redis://[redacted]@127.0.0.1:6379/0"],
    ["rediss+cluster://relay:hunter2@10.0.0.1:7000,10.0.0.2:7001", "rediss+cluster://[redacted]@10.0.0.1:7000,10.0.0.2:7001"],
    ["redis+sentinel://relay:hunter2@s1:26379,s2:26379/mymaster?role=master", "redis+sentinel://[redacted]@s1:26379,s2:26379/mymaster?role=master"],
    ["redis+sentinel://s1:26379/mymaster?sentinelPassword=hunter2&role=master", "redis+sentinel://s1:26379/mymaster?sentinelPassword=[redacted]&role=master"],
    ["redis://u:p@ss:w/rd@127.0.0.1:6379", "redis://[redacted]@127.0.0.1:6379"],
    ["redis://127.0.0.1:6379", "redis://127.0.0.1:6379"],
  ])("%s → %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe("REDIS_URL in the configuration", () => {
  const valid = { APP_ID: "123", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s" };

  it("takes every form as written", () => {
    const url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7001";

    expect(parseEnv({ ...valid, REDIS_URL: url }).redisUrl).toBe(url);
  });

  it("names the variable and the fix, without the password", () => {
    let message = "";
    try {
      parseEnv({ ...valid, REDIS_URL: "redis+sentinel://:hunter2@10.0.0.1:26379" });
    } catch (e) {
      if (e instanceof ConfigError) message = e.message;
    }

    expect(message).toContain("REDIS_URL must end with the one master name the sentinels monitor (sentinel monitor <name> …), e.g. redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster");
    expect(message).not.toContain("hunter2");
  });
});
