import type { Scope } from "../history/history-store.js";
import type { DependencyMap } from "../map/graph.js";
import type { EnvSinkSpec, SinkKind, SinkSpec } from "./sink-spec.js";
import { CHAT_KINDS, envNames, shortType, sinkKind } from "./sink-spec.js";
import { isRelayOwnVariable } from "../map/secret-names.js";

export const DEFAULT_SINK_ATTEMPTS = 10;

/** A subscriber as the relay delivers to it: its secret read from the environment. */
export interface Sink {
  id: string;
  /** how it is reached (sink-spec.ts sinkKind) */
  kind: SinkKind;
  /** where (empty for a Matrix room or a webhook named by url_env) */
  url: string;
  /** its entry as written: the transport reads its own options from it */
  spec: EnvSinkSpec;
  /** where it is, as an operator may be shown it (a webhook's URL is a secret: only its variable is named) */
  shown: string;
  /** the variables it names (`*_env`) that are unset here: its deliveries fail until they are set */
  unset: string[];
  /** undefined when the variable it names is unset: deliveries then fail with what to set */
  secret: string | undefined;
  /** the variable holding the secret, for messages ("inline" for a secret written in OPENCI_SINKS) */
  secretFrom: string;
  events: ReadonlySet<string> | undefined;
  projects: ReadonlySet<string> | undefined;
  attempts: number;
  /** receives events about private projects too */
  private: boolean;
  from: "env" | "map";
}

/** The subscribers of OPENCI_SINKS and of the live map; OPENCI_SINKS wins where both use an id. */
export class Sinks {
  constructor(
    private readonly envSinks: EnvSinkSpec[],
    readonly map: () => DependencyMap,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  list(): Sink[] {
    const fromEnv = this.envSinks.map((s) => this.resolve(s, "env"));
    const ids = new Set(fromEnv.map((s) => s.id));
    return [...fromEnv, ...this.map().subscribers().filter((s) => !ids.has(s.id)).map((s) => this.resolve(s, "map"))];
  }

  get(id: string): Sink | undefined {
    return this.list().find((s) => s.id === id);
  }

  /**
   * The sinks that want an event of this type about these projects; a private record only those
   * that say `private: true`. A chat gets every record: what it says of one (a release's summary
   * when its last downstream ends, a failure) depends on the release, not the record's type or
   * projects; its `projects:` are matched against the release (chat-delivery.ts).
   */
  matching(type: string, projects: string[], scope: Scope = "public"): Sink[] {
    return this.list().filter((s) => (scope === "public" || s.private) && (CHAT_KINDS.has(s.kind)
      || ((s.events === undefined || s.events.has(shortType(type))) && (s.projects === undefined || projects.some((p) => s.projects!.has(p))))));
  }

  private resolve(s: SinkSpec & { secret?: string | undefined }, from: Sink["from"]): Sink {
    return {
      id: s.id, kind: sinkKind(s) ?? "http", url: s.url ?? "", spec: s, from, shown: shown(s),
      unset: envNames(s).map(([, v]) => v).filter((v) => isRelayOwnVariable(v) || !this.env[v]),
      // The map's validation refuses the relay's own variables; a map built some other way still never signs with them.
      secret: s.secret ?? (s.secret_env && !isRelayOwnVariable(s.secret_env) ? this.env[s.secret_env] || undefined : undefined),
      secretFrom: s.secret !== undefined ? "inline" : s.secret_env ?? "(none)",
      events: s.events ? new Set(s.events.map(shortType)) : undefined,
      projects: s.projects ? new Set(s.projects) : undefined,
      attempts: s.attempts ?? DEFAULT_SINK_ATTEMPTS,
      private: s.private ?? false,
    };
  }
}

function shown(s: SinkSpec): string {
  if (s.matrix) return `matrix ${s.matrix.room} on ${s.matrix.homeserver}`;
  if (s.format) return `${s.format} webhook (${s.url_env ? `url in ${s.url_env}` : "url in OPENCI_SINKS"})`;
  return s.url ?? "";
}
