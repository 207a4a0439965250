import type { DependencyMap, Place } from "../map/graph.js";
import { placeOf, refOf } from "../map/graph.js";
import type { BatchSource, Checks, Files, Forge, Reporter, Runner, Source } from "./roles.js";
import type { SystemKind } from "./kinds.js";

export type { SystemKind };

/** A place and, for a call about the repository a delivery came from, the installation it named. */
export type At = Place & { installationId?: number | undefined };

/**
 * One system as the relay uses it: a factory for each role it plays (absent: a role it does not
 * have), and how its events reach the relay. GitHub and GitLab have every role; a git host that
 * only serves tags would give `source` alone, a CI server `runner` alone.
 */
export interface SystemDriver {
  source?(at: At): Source;
  runner?(at: At): Runner;
  reporter?(at: At): Reporter;
  files?(at: At): Files;
  /** where its upstreams' own CI results are read, when not from its reporter (Gerrit: the project's Zuul) */
  checks?(at: At): Checks;
  /** no hook tells the relay that one of its upstream's checks ended: a waiting gate is polled (Gerrit's Zuul) */
  pollsChecks?: boolean;
  /** its runs' results may not reach the relay by webhook: the relay also polls the runs it started */
  pollsRuns: boolean;
  /** its hooks about checks are signed by the system itself; otherwise a hook's word is confirmed through its API first */
  signsCheckHooks: boolean;
  /** no webhook of it reaches the relay: its upstreams are watched, their tags polled (a git host) */
  watched?: boolean;
  /** reads many watched upstreams' tags at once: the watcher polls this system's upstreams in batches, not one by one */
  batchSource?(): BatchSource;
}

/** A whole forge as a driver: one object per call plays every role. */
export function forgeDriver(make: (at: At) => Forge, o: Pick<SystemDriver, "pollsRuns" | "signsCheckHooks">): SystemDriver {
  return { source: make, runner: make, reporter: make, files: make, ...o };
}

export type Role = "source" | "runner" | "reporter" | "files" | "checks";
const ROLE_NAMES: Record<Role, string> = {
  source: "a source of tags", runner: "a place to run pipelines", reporter: "a place to show results", files: "a place to read files from", checks: "a place to read an upstream's CI results from",
};

/**
 * The systems the relay talks to, asked by role: the flow says what it needs at a place ("the
 * runner where this downstream lives") and never which system that is. A place the map lists
 * brings the variable of its token; a place known only by path (an upstream commit, a downstream
 * run) gets it from the map's entry for that place.
 */
export class Systems {
  constructor(private readonly drivers: Partial<Record<SystemKind, SystemDriver>>, private readonly map: () => DependencyMap) {}

  source(at: At): Source {
    return this.role("source", at);
  }

  runner(at: At): Runner {
    return this.role("runner", at);
  }

  reporter(at: At): Reporter {
    return this.role("reporter", at);
  }

  files(at: At): Files {
    return this.role("files", at);
  }

  /** Where an upstream's own CI results are read: its system's `checks`, else its reporter. */
  checks(at: At): Checks {
    return this.drivers[at.forge]?.checks ? this.role("checks", at) : this.role("reporter", at);
  }

  /** Whether a gate on this system's upstream checks is polled (no hook says when a check ends). */
  pollsChecks(kind: SystemKind): boolean {
    return this.drivers[kind]?.pollsChecks ?? false;
  }

  /** Whether a system plays a role: fan-out leaves out dependants where nothing can run their pipelines, and says so. */
  plays(kind: SystemKind, role: Role): boolean {
    return this.drivers[kind]?.[role] !== undefined;
  }

  /** Systems whose downstream results may not reach the relay by webhook are also polled. */
  pollsRuns(kind: SystemKind): boolean {
    return this.drivers[kind]?.pollsRuns ?? false;
  }

  /** Whether the relay hears of this system's tags only by polling: every upstream there is watched. */
  watched(kind: SystemKind): boolean {
    return this.drivers[kind]?.watched ?? false;
  }

  /** The batch reader of a system whose watched upstreams are polled together (GitHub), if it has one. */
  batchSource(kind: SystemKind): BatchSource | undefined {
    return this.drivers[kind]?.batchSource?.();
  }

  /**
   * Whether results are shown at an upstream's place: its system plays `reporter`, and the map does
   * not say the relay only watches it (`watch:`, an upstream that did not install the app or add a
   * webhook). Nothing is ever written to a watched upstream.
   */
  showsResults(at: Pick<Place, "forge" | "repo" | "host">): boolean {
    if (!this.plays(at.forge, "reporter")) return false;
    // On a system watched by nature (Gerrit), `watch:` only sets the poll interval: it says nothing of consent.
    if (this.watched(at.forge)) return true;
    return !this.map().projectsAt(refOf(at)).some((p) => p.watch !== undefined);
  }

  /** Whether a hook about a check is taken on its word (signed by the system) or confirmed through the API. */
  signsCheckHooks(kind: SystemKind): boolean {
    return this.drivers[kind]?.signsCheckHooks ?? false;
  }

  private role<R extends Role>(role: R, at: At): ReturnType<NonNullable<SystemDriver[R]>> {
    const make = this.drivers[at.forge]?.[role];
    if (!make) throw new Error(`${at.forge} is not ${ROLE_NAMES[role]} for the relay (no ${role} for ${at.forge} is registered)`);
    const tokenEnv = at.tokenEnv ?? this.listedTokenEnv(at);
    return make({ ...at, ...(tokenEnv ? { tokenEnv } : {}) }) as ReturnType<NonNullable<SystemDriver[R]>>;
  }

  private listedTokenEnv(at: At): string | undefined {
    const listed = this.map().projectsAt(refOf(at))[0];
    return listed ? placeOf(listed.location).tokenEnv : undefined;
  }
}
