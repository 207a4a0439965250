import type { Scope } from "../history/history-store.js";
import type { DependencyMap } from "../map/graph.js";
import type { EnvSinkSpec, SinkSpec } from "./sink-spec.js";
import { shortType } from "./sink-spec.js";
import { isRelayOwnVariable } from "../map/secret-names.js";

export const DEFAULT_SINK_ATTEMPTS = 10;

/** A subscriber as the relay delivers to it: its secret read from the environment. */
export interface Sink {
  id: string;
  url: string;
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
    private readonly map: () => DependencyMap,
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

  /** The sinks that want an event of this type about these projects; a private record only those that say `private: true`. */
  matching(type: string, projects: string[], scope: Scope = "public"): Sink[] {
    return this.list().filter((s) => (scope === "public" || s.private)
      && (s.events === undefined || s.events.has(shortType(type))) && (s.projects === undefined || projects.some((p) => s.projects!.has(p))));
  }

  private resolve(s: SinkSpec & { secret?: string | undefined }, from: Sink["from"]): Sink {
    return {
      id: s.id, url: s.url, from,
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
