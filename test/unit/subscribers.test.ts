import { mapOptionsOf } from "../../src/map/map-options.js";
import { describe, expect, it } from "@jest/globals";
import { parseEnv } from "../../src/config/env.js";
import { MapError, parseMap } from "../../src/map/load.js";
import { Sinks } from "../../src/sinks/sinks.js";
import { appPrivateKey } from "../helpers/keys.js";
import { configError } from "../helpers/config-error.js";

const valid = { APP_ID: "123", PRIVATE_KEY: appPrivateKey(), WEBHOOK_SECRET: "s" };
const MAP = (subscribers: string) => `version: 2
foundations: [{ id: lf, name: LF }]
projects:
  - { id: nova, foundation: lf, github: openstack/nova }
  - { id: kolla, foundation: lf, github: openstack/kolla, trigger: { workflow: ci.yml, ref: main }, depends_on: [{ project: nova }] }
subscribers:
${subscribers}`;

const envError = (env: Record<string, string>): string => configError({ ...valid, ...env });

function mapProblems(text: string, options: Parameters<typeof parseMap>[2] = {}): string[] {
  try {
    parseMap(text, "map.yml", options);
  } catch (e) {
    if (e instanceof MapError) return e.problems.map((p) => `${p.line}:${p.column}: ${p.message}`);
    throw e;
  }
  return [];
}

describe("subscribers in OPENCI_SINKS", () => {
  it("are read with their defaults", () => {
    const c = parseEnv({ ...valid, OPENCI_SINKS: '[{"id":"ops","url":"https://ops.example/cdevents","secret_env":"OPS_SECRET","events":["pipelinerun.finished"]}]' });

    expect(c.sinks).toEqual([{ id: "ops", url: "https://ops.example/cdevents", secret_env: "OPS_SECRET", events: ["pipelinerun.finished"] }]);
    expect(c.sinkRetryMs).toBe(2000);
    expect(parseEnv(valid).sinks).toEqual([]);
  });

  it.each([
    ["not JSON", "[{id:", "OPENCI_SINKS is not JSON"],
    ["no secret", '[{"id":"ops","url":"https://ops.example"}]', "OPENCI_SINKS[0] needs exactly one of secret and secret_env"],
    ["a short secret", '[{"id":"ops","url":"https://ops.example","secret":"short"}]', "OPENCI_SINKS[0.secret] must be at least 16 characters"],
    ["an unknown event", '[{"id":"ops","url":"https://ops.example","secret_env":"X","events":["build.exploded"]}]', "OPENCI_SINKS[0.events.0] must be one of artifact.published"],
    ["a duplicate id", '[{"id":"a","url":"https://a.example","secret_env":"X"},{"id":"a","url":"https://b.example","secret_env":"Y"}]', "OPENCI_SINKS[1].id 'a' is used twice"],
    ["a URL of no transport", '[{"id":"a","url":"ftp://a.example","secret_env":"X"}]', "OPENCI_SINKS[0.url] must be an http(s)://, mqtt(s)://, nats://, amqp(s)://, or irc(s):// URL"],
    ["an option of another transport", '[{"id":"a","url":"mqtt://broker.example","exchange":"openci"}]', "OPENCI_SINKS[0.exchange] is not an option of a mqtt subscriber (it is for amqp ones)"],
    ["a secret on a broker", '[{"id":"a","url":"nats://nats.example","secret":"0123456789abcdef"}]', "OPENCI_SINKS[0.secret] is not an option of a nats subscriber (it is for http ones)"],
    ["chat events on a broker", '[{"id":"a","url":"amqp://rabbit.example","events":["failures"]}]', "OPENCI_SINKS[0.events.0] 'failures' is for chats"],
    ["CDEvent types on a chat", '[{"id":"a","url":"irc://irc.example/ops","events":["pipelinerun.finished"]}]', "OPENCI_SINKS[0.events.0] a chat is told releases and failures"],
    ["a webhook without its URL", '[{"id":"a","format":"slack"}]', "OPENCI_SINKS[0] needs exactly one of url and url_env"],
    ["an IRC password over clear text", '[{"id":"a","url":"irc://irc.example/ops","password_env":"IRC_BOT_PASSWORD"}]', "OPENCI_SINKS[0.password_env] is sent in clear text over irc://: use ircs://"],
    ["an MQTT password without a user", '[{"id":"a","url":"mqtt://broker.example","password_env":"P"}]', "OPENCI_SINKS[0.password_env] needs username_env"],
    ["an AMQP user without a password", '[{"id":"a","url":"amqp://rabbit.example","username_env":"U"}]', "OPENCI_SINKS[0.username_env] username_env and password_env go together"],
    ["the relay's own variable as a Matrix token", '[{"id":"a","matrix":{"homeserver":"https://matrix.example","room":"#ops:matrix.example","token_env":"GITLAB_TOKEN"}}]', "OPENCI_SINKS[0.matrix.token_env] names GITLAB_TOKEN, the relay's own configuration"],
  ])("refuse %s with what to fix", (_name, value, message) => {
    expect(envError({ OPENCI_SINKS: value })).toContain(message);
  });
});

describe("subscribers in the map", () => {
  it("join the sinks of OPENCI_SINKS, which win on the same id, with their secrets from the environment", () => {
    const map = parseMap(MAP(`  - { id: ops, url: "https://map.example/ops", secret_env: OPS_SECRET }
  - { id: kolla-watch, url: "https://kolla.example/hook", secret_env: KOLLA_SECRET, events: [pipelinerun.finished], projects: [kolla] }
`), "map.yml");
    const sinks = new Sinks([{ id: "ops", url: "https://env.example/ops", secret: "0123456789abcdef" }], () => map, { KOLLA_SECRET: "kolla-secret" });

    expect(sinks.list().map((s) => [s.id, s.url, s.from, s.secret])).toEqual([
      ["ops", "https://env.example/ops", "env", "0123456789abcdef"],
      ["kolla-watch", "https://kolla.example/hook", "map", "kolla-secret"],
    ]);
    expect(sinks.matching("dev.cdevents.pipelinerun.finished.0.3.0", ["nova", "kolla"]).map((s) => s.id)).toEqual(["ops", "kolla-watch"]);
    expect(sinks.matching("dev.cdevents.pipelinerun.queued.0.3.0", ["nova", "kolla"]).map((s) => s.id)).toEqual(["ops"]);
    expect(sinks.matching("dev.cdevents.pipelinerun.finished.0.3.0", ["nova"]).map((s) => s.id)).toEqual(["ops"]);
  });

  it("receive private records only when they say private: true, in OPENCI_SINKS or the map", () => {
    const map = parseMap(MAP(`  - { id: audit, url: "https://audit.example/hook", secret_env: AUDIT_SECRET, private: true }\n`), "map.yml");
    const env = parseEnv({ ...valid, OPENCI_SINKS: '[{"id":"ops","url":"https://ops.example","secret_env":"X"},{"id":"vault","url":"https://vault.example","secret_env":"Y","private":true}]' });
    const sinks = new Sinks(env.sinks, () => map, {});
    const type = "dev.cdevents.pipelinerun.finished.0.3.0";

    expect(sinks.matching(type, ["nova"]).map((s) => s.id)).toEqual(["ops", "vault", "audit"]);
    expect(sinks.matching(type, ["nova"], "private").map((s) => s.id)).toEqual(["vault", "audit"]);
    expect(mapProblems(MAP(`  - { id: a, url: "https://a.example", secret_env: A, private: "yes" }\n`))).toEqual([expect.stringContaining("subscribers[0].private")]);
  });

  it("are checked like the rest of the map: secrets only by name, known projects, one entry per id", () => {
    expect(mapProblems(MAP(`  - { id: a, url: "https://a.example", secret: "hunter2hunter2hunter2" }\n`))).toEqual([
      expect.stringMatching(/^7:40: subscribers\[0\]: unknown key 'secret': remove it, or use one of: id, url, secret_env, events, projects, attempts, private, /),
      "7:5: subscribers[0].secret_env: is required: name the variable holding the subscriber's secret (secrets are never written in the map)",
    ]);
    expect(mapProblems(MAP(`  - { id: a, url: "https://a.example", secret_env: A, projects: [nova, nowhere] }\n  - { id: a, url: "https://b.example", secret_env: B }\n`))).toEqual([
      expect.stringContaining("subscribers[0].projects[1]: unknown project 'nowhere'"),
      expect.stringContaining("subscribers[1].id: duplicate subscriber id 'a'"),
    ]);
  });

  it("take brokers and chats by their url's scheme, matrix: or format:, each with its own options", () => {
    const entries = [
      `  - { id: firehose, url: "mqtts://mqtt.example:8883", topic: "ci/{foundation}/{project}/{event}", username_env: FIREHOSE_USER, password_env: FIREHOSE_PASSWORD }`,
      `  - { id: bus, url: "nats://nats.example:4222", subject: "openci.{project}.{event}", token_env: BUS_TOKEN, events: [pipelinerun.finished] }`,
      `  - { id: fedora, url: "amqps://rabbit.example/%2F", exchange: openci }`,
      `  - { id: channel, url: "ircs://irc.oftc.net:6697/openinfra-events", nick: openci-bot, events: [releases, failures] }`,
      `  - { id: room, matrix: { homeserver: "https://matrix.example", room: "#ops:matrix.example", token_env: MATRIX_TOKEN } }`,
      `  - { id: slack, format: slack, url_env: SLACK_WEBHOOK_URL }`,
    ];
    expect(mapProblems(MAP(`${entries.join("\n")}\n`))).toEqual([]);
  });

  it("refuse a webhook's URL written in the map, a wildcard in a topic, and one secret named for two hosts", () => {
    const problems = mapProblems(MAP([
      `  - { id: slack, format: slack, url: "https://hooks.slack.example/services/T0/B0/secret" }`,
      `  - { id: firehose, url: "mqtt://mqtt.example", topic: "openci/#" }`,
      `  - { id: bus, url: "nats://nats.example", token_env: SHARED }`,
      `  - { id: room, matrix: { homeserver: "https://matrix.example", room: "!abc:matrix.example", token_env: SHARED } }`,
    ].join("\n") + "\n"));

    expect(problems).toEqual(expect.arrayContaining([
      expect.stringContaining("subscribers[0].url: is a secret (whoever has it can post): name it with url_env, never in the map"),
      expect.stringContaining("subscribers[1].topic:"),
      expect.stringContaining("subscribers[3].matrix.token_env: SHARED is already named for nats.example"),
    ]));
  });

  it("refuse a variable OPENCI_SINKS sends to another host: a map change must not hand the operators' broker password to a subscriber of its own", () => {
    const config = parseEnv({ ...valid, OPENCI_SINKS: JSON.stringify([{ id: "bus", url: "amqps://rabbit.internal.example/%2F", username_env: "BUS_USER", password_env: "BUS_PASSWORD" }]) });
    const options = mapOptionsOf(config);

    expect(mapProblems(MAP(`  - { id: mine, url: "amqp://attacker.example", username_env: BUS_USER, password_env: BUS_PASSWORD }\n`), options)).toEqual([
      expect.stringContaining("subscribers[0].username_env: BUS_USER is already named for rabbit.internal.example (OPENCI_SINKS)"),
      expect.stringContaining("subscribers[0].password_env: BUS_PASSWORD is already named for rabbit.internal.example (OPENCI_SINKS)"),
    ]);
    expect(mapProblems(MAP(`  - { id: same, url: "amqps://rabbit.internal.example/%2F", username_env: BUS_USER, password_env: BUS_PASSWORD }\n`), options)).toEqual([]);
  });
});
