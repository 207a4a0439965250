import { z } from "zod";
import { CDEVENT_TYPES, type CDEventType } from "../history/cdevent.js";
import { isRelayOwnVariable } from "../map/secret-names.js";

const ALL_TYPES = Object.values(CDEVENT_TYPES) as CDEventType[];
/** "pipelinerun.finished" for dev.cdevents.pipelinerun.finished.0.3.0, "openci-gate.decided" for the custom ones. */
export const SHORT_TYPES = ALL_TYPES.map(shortType);

export function shortType(type: string): string {
  return type.replace(/^dev\.cdevents(x)?\./, "").replace(/\.\d+\.\d+\.\d+$/, "");
}

const EventName = z.enum([...SHORT_TYPES, ...ALL_TYPES] as [string, ...string[]], {
  error: `must be one of ${SHORT_TYPES.join(", ")} (or their full CDEvents types)`,
});

/**
 * A subscriber: an HTTP endpoint that receives the relay's CDEvents, each POST signed with its
 * secret. In the map only the secret's variable may be named (`secret_env`); OPENCI_SINKS, being
 * environment, may also hold the secret itself.
 */
export const SinkSpec = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lower-case letters, digits and '-', e.g. ops-dashboard"),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).describe("Where each event is POSTed (CloudEvents binary mode)."),
  secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "must name an environment variable").optional()
    .describe("The variable holding the secret the deliveries are signed with (HMAC-SHA256)."),
  events: z.array(EventName).min(1).optional().describe(`Which events to send (default all): ${SHORT_TYPES.join(", ")}.`),
  projects: z.array(z.string().min(1)).min(1).optional().describe("Only events about these projects (as upstream or downstream); default all."),
  attempts: z.number().int().min(1).max(50).optional().describe("Delivery attempts before an event is dead-lettered (default 10)."),
  private: z.boolean().optional()
    .describe("Also receive events about private projects (default false: only public ones). Only for a subscriber as trusted as the relay's read token."),
});
export type SinkSpec = z.infer<typeof SinkSpec>;

export const EnvSinkSpec = SinkSpec.extend({
  secret: z.string().min(16, "must be at least 16 characters").optional(),
});
export type EnvSinkSpec = z.infer<typeof EnvSinkSpec>;

/** OPENCI_SINKS: a JSON array of sinks. Returns the sinks, or every problem in words. */
export function parseEnvSinks(text: string | undefined): { sinks: EnvSinkSpec[]; problems: string[] } {
  if (text === undefined || text.trim() === "") return { sinks: [], problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which may hold a secret: not repeated here.
    return { sinks: [], problems: [`OPENCI_SINKS is not JSON: write a JSON array such as [{"id":"ops","url":"https://ops.example/cdevents","secret_env":"OPS_SINK_SECRET"}]`] };
  }
  const parsed = z.array(EnvSinkSpec).safeParse(json);
  if (!parsed.success) {
    return { sinks: [], problems: parsed.error.issues.map((i) => `OPENCI_SINKS[${i.path.join(".")}] ${i.message}`) };
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  parsed.data.forEach((s, i) => {
    if (seen.has(s.id)) problems.push(`OPENCI_SINKS[${i}].id '${s.id}' is used twice: give each sink its own id`);
    seen.add(s.id);
    if (s.secret_env !== undefined && isRelayOwnVariable(s.secret_env)) problems.push(`OPENCI_SINKS[${i}].secret_env names ${s.secret_env}, the relay's own configuration: give the subscriber a secret of its own`);
    if ((s.secret === undefined) === (s.secret_env === undefined)) problems.push(`OPENCI_SINKS[${i}] needs exactly one of secret and secret_env: deliveries are always signed`);
  });
  return { sinks: parsed.data, problems };
}
