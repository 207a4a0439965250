import { envNames } from "../sinks/sink-spec.js";
import { filterProblem } from "./edge-filter.js";
import type { Edge, MapOptions, Project } from "./graph.js";
import { secretNameProblem } from "./secret-names.js";
import type { Fragment, Placed } from "./normalise.js";
import type { MapEdgeV2, MapProject, MapProjectV2, MapTrigger } from "./schema.js";
import { parseDuration } from "./duration.js";
import { artifactGateProblems } from "./edge-artifacts.js";
import { nearest } from "./nearest.js";
import { PairSet } from "./pair-set.js";

/** The shortest `watch.interval` by default (OPENCI_WATCH_MIN_INTERVAL_MS). */
export const DEFAULT_MIN_WATCH_INTERVAL_MS = 10_000;

/** A problem (or warning) in a map file, at a path inside it. */
export interface MapProblem {
  file: string;
  path: (string | number)[];
  message: string;
  /** a reference to an id no entry has: to tell it from the consequence of an entry left out for its own problem */
  unknown?: { kind: "project" | "foundation"; id: string };
}

/**
 * An unknown reference's message with the nearest id suggested, if one is near ("did you mean
 * 'kubernetes'?"). Apart from checkReferences, so that only the problems reported pay for it.
 */
export function withSuggestion(p: MapProblem, fragments: Fragment[]): MapProblem {
  if (!p.unknown) return p;
  const { kind, id } = p.unknown;
  const like = nearest(id, kind === "project" ? fragments.flatMap((f) => f.projects.map((x) => x.value.id)) : fragments.flatMap((f) => f.foundations.map((x) => x.value.id)));
  return like ? { ...p, message: `unknown ${kind} '${id}': did you mean '${like}'? (or add it to '${kind}s')` } : p;
}

/** Rules a schema cannot express, across every file of the map: ids, references, triggers, filters. */
export function checkReferences(fragments: Fragment[], options: MapOptions = {}): MapProblem[] {
  const problems: MapProblem[] = [];
  const at = (placed: { file: string; path: (string | number)[] }, message: string, ...rest: (string | number)[]) =>
    problems.push({ file: placed.file, path: [...placed.path, ...rest], message });
  const unknown = (placed: { file: string; path: (string | number)[] }, kind: "project" | "foundation", id: string, ...rest: (string | number)[]) =>
    problems.push({ file: placed.file, path: [...placed.path, ...rest], message: `unknown ${kind} '${id}': add it to '${kind}s' or fix the id`, unknown: { kind, id } });
  const where = (first: Placed<unknown>, file: string) =>
    `${first.path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i ? "." : ""}${k}`)).join("")}${first.file === file ? "" : ` in ${first.file}`}`;

  // Loops over each fragment's lists, not copies of them: a map of 100,000 edges is read several times.
  const foundations = new Map<string, Placed<unknown>>();
  for (const fr of fragments) {
    for (const f of fr.foundations) {
      const first = foundations.get(f.value.id);
      if (first) at(f, `duplicate foundation id '${f.value.id}' (first used by ${where(first, f.file)})`, "id");
      else foundations.set(f.value.id, f);
    }
  }
  const projects = new Map<string, Placed<unknown>>();
  for (const fr of fragments) {
    for (const p of fr.projects) {
      const first = projects.get(p.value.id);
      if (first) at(p, `duplicate id '${p.value.id}' (first used by ${where(first, p.file)})`, "id");
      else projects.set(p.value.id, p);
    }
  }

  const gitUpstreams = new Set<string>();
  /** Gerrit upstreams, and whether Zuul builds them (their only checks an edge can wait for) */
  const gerritUpstreams = new Map<string, boolean>();
  /** Gerrit upstreams whose changes the relay can hear of (ssh: stream-events) and review (HTTP credentials) */
  const gerritChanges = new Map<string, { ssh: boolean; http: boolean }>();
  for (const p of projectsOf(fragments)) {
    const raw = p.raw as MapProject & Partial<Pick<MapProjectV2, "foundation" | "git" | "gerrit" | "watch">>;
    const places = Number(raw.github !== undefined) + Number(raw.gitlab !== undefined) + Number(raw.git !== undefined) + Number(raw.gerrit !== undefined);
    if (places !== 1) {
      at(p, `project '${raw.id}' needs exactly one of 'github: owner/repo', 'gitlab: group/project' or (format v2) 'git: https://host/path' or 'gerrit: { url, project }'`);
    }
    if (raw.foundation !== undefined && !foundations.has(raw.foundation)) {
      unknown(p, "foundation", raw.foundation, "foundation");
    }
    if (raw.git !== undefined && places === 1) {
      gitUpstreams.add(raw.id);
      // No system runs pipelines on a plain git host: it can only be an upstream.
      if (raw.trigger !== undefined) at(p, `project '${raw.id}' is on a git host (git:), where the relay runs no pipelines: it can only be an upstream; remove 'trigger' (and 'depends_on')`, "trigger");
      else if ((raw.depends_on ?? []).length > 0) at(p, `project '${raw.id}' is on a git host (git:), where the relay runs no pipelines: it can only be an upstream; remove 'depends_on'`, "depends_on");
    } else if ((raw.depends_on ?? []).length > 0) problems.push(...checkTrigger(p));
    else if ((raw.trigger as MapTrigger | undefined)?.jenkins !== undefined) problems.push(...checkTrigger(p));
    if (raw.gerrit !== undefined && places === 1) {
      gerritUpstreams.set(raw.id, raw.gerrit.zuul !== undefined);
      gerritChanges.set(raw.id, { ssh: raw.gerrit.ssh !== undefined, http: raw.gerrit.user_env !== undefined && raw.gerrit.password_env !== undefined });
    }
    if (raw.watch?.interval !== undefined) {
      const min = options.minWatchIntervalMs ?? DEFAULT_MIN_WATCH_INTERVAL_MS;
      if (parseDuration(raw.watch.interval) < min) {
        at(p, `${raw.watch.interval} is shorter than the shortest interval allowed, ${min / 1000}s (OPENCI_WATCH_MIN_INTERVAL_MS): poll less often`, "watch", "interval");
      }
    }
  }

  const seen = new PairSet();
  for (const e of edgesOf(fragments)) {
    const { upstream, downstream } = e.value;
    if (!projects.has(upstream)) unknown(e, "project", upstream, "project");
    else if (upstream === downstream) at(e, `project '${downstream}' cannot depend on itself`, "project");
    if (!seen.add(upstream, downstream)) at(e, `'${upstream}' is listed twice: use one entry per upstream`, "project");
    const raw = e.raw as MapEdgeV2;
    if (Number(raw.tags !== undefined) + Number(raw.tag_regex !== undefined) + Number(raw.semver !== undefined) > 1) {
      const filters = (["tags", "tag_regex", "semver"] as const).filter((k) => raw[k] !== undefined);
      at(e, `use one of ${filters.join(", ")}: an edge has a single tag filter`, filters[1]!);
    }
    const bad = filterProblem(e.value.filter);
    if (bad) at(e, bad, e.value.filter.kind === "semver" ? "semver" : "tag_regex");
    if (raw.forks !== undefined && !e.value.on.has("pull_request")) at(e, "'forks' only matters with 'on: [pull_request]'", "forks");
    if (gitUpstreams.has(upstream)) {
      // A git host has no checks to wait for and no pull requests the relay hears of.
      if (e.value.after_check !== undefined) at(e, `'${upstream}' is on a git host (git:), which has no checks to wait for: remove 'after_check'`, "after_check");
      if (e.value.on.has("pull_request")) at(e, `'${upstream}' is on a git host (git:): the relay sees its tags only, not its pull requests; remove pull_request from 'on'`, "on");
    }
    if (gerritUpstreams.has(upstream)) {
      if (e.value.after_check !== undefined && !gerritUpstreams.get(upstream)) {
        at(e, `'${upstream}' is on Gerrit, which runs no CI the relay can read: add 'zuul: { url, tenant }' to its gerrit entry (after_check then names a Zuul pipeline, e.g. release), or remove 'after_check'`, "after_check");
      }
      if (e.value.on.has("pull_request")) at(e, `'${upstream}' is on Gerrit, which has changes, not pull requests: write 'change' in 'on'`, "on");
      const can = gerritChanges.get(upstream);
      if (e.value.on.has("change") && can && !can.ssh) {
        at(e, `'${upstream}' gives no 'ssh' in its gerrit entry: the relay hears of changes only from gerrit stream-events (the REST poll sees tags only); add ssh: { user_env, key_env } (an account with the Stream Events capability), or remove change from 'on'`, "on");
      } else if (e.value.on.has("change") && can && !can.http) {
        at(e, `'${upstream}' gives no HTTP credentials in its gerrit entry: the result of a change is a review message, posted as an account; add user_env and password_env (Settings → HTTP Credentials), or remove change from 'on'`, "on");
      }
    } else if (e.value.on.has("change") && projects.has(upstream)) {
      at(e, `'${upstream}' is not on Gerrit: 'change' is for a Gerrit upstream's changes (GitHub and GitLab: pull_request); remove change from 'on'`, "on");
    }
  }

  if (fragments.some((fr) => fr.edges.some((e) => e.value.after_artifacts))) {
    problems.push(...artifactGateProblems(fragments.flatMap((fr) => fr.projects), fragments.flatMap((fr) => fr.edges)));
  }

  const sinks = new Map<string, Placed<unknown>>();
  for (const s of fragments.flatMap((fr) => fr.subscribers ?? [])) {
    const first = sinks.get(s.value.id);
    if (first) at(s, `duplicate subscriber id '${s.value.id}' (first used by ${where(first, s.file)})`, "id");
    else sinks.set(s.value.id, s);
    (s.value.projects ?? []).forEach((id, i) => {
      if (!projects.has(id)) unknown(s, "project", id, "projects", i);
    });
  }

  problems.push(...checkSecretNames(fragments, options));

  const limits = fragments.filter((f) => f.cascadeHopLimit !== undefined);
  if (new Set(limits.map((f) => f.cascadeHopLimit)).size > 1) {
    for (const f of limits.slice(1)) {
      problems.push({ file: f.file, path: ["settings", "cascade_hop_limit"], message: `differs from ${limits[0]!.file} (${limits[0]!.cascadeHopLimit}): set it once` });
    }
  }
  return problems;
}

function checkTrigger(p: Placed<unknown>): MapProblem[] {
  const raw = p.raw as MapProject;
  const problem = (message: string, ...rest: string[]) => [{ file: p.file, path: [...p.path, ...rest], message }];
  const t = raw.trigger as MapTrigger | undefined;
  if (t === undefined) return problem(`project '${raw.id}' has depends_on but no 'trigger' saying how its pipeline starts`);
  if (t.jenkins !== undefined) {
    const other = (["workflow", "event_type", "ref", "token_env"] as const).find((k) => t[k] !== undefined);
    return other ? problem(`'${other}' is for a GitHub or GitLab pipeline; a Jenkins job is started with its build parameters: remove '${other}'`, "trigger", other) : [];
  }
  if ((raw as Partial<MapProjectV2>).gerrit !== undefined) {
    return problem(`project '${raw.id}' is on Gerrit, which runs no pipelines: say where its CI runs with 'trigger: { jenkins: { url, job, user_env, token_env } }'`, "trigger");
  }
  if (raw.gitlab !== undefined) {
    if (t.workflow !== undefined || t.event_type !== undefined) {
      return problem("a GitLab project is triggered by 'ref' only; 'workflow' and 'event_type' are for GitHub", "trigger");
    }
    return t.ref === undefined ? problem("a GitLab trigger needs 'ref', the branch to run the pipeline on", "trigger") : [];
  }
  if (t.token_env !== undefined) {
    return problem("'token_env' names a GitLab pipeline trigger token; a GitHub project is triggered through the app", "trigger", "token_env");
  }
  if ((t.workflow === undefined) === (t.event_type === undefined)) {
    return problem("a GitHub trigger needs exactly one of 'workflow: <file>.yml' (workflow_dispatch) or 'event_type: <name>' (repository_dispatch)", "trigger");
  }
  if (t.workflow !== undefined && t.ref === undefined) {
    return problem("a workflow trigger needs 'ref', the branch the workflow runs on (e.g. main)", "trigger");
  }
  return [];
}

/**
 * Every variable the map names as a secret: never the relay's own configuration, only those
 * OPENCI_MAP_SECRETS lists (when set), and each for one host only, since its value is sent to (or
 * signs for) the host of the entry that names it.
 */
function checkSecretNames(fragments: Fragment[], options: MapOptions): MapProblem[] {
  const problems: MapProblem[] = [];
  const hosts = new Map<string, { host: string; at: string }>([...(options.boundSecrets ?? [])].map(([name, host]) => [name, { host, at: "OPENCI_SINKS" }]));
  const named = (name: string | undefined, host: string | undefined, file: string, path: (string | number)[]) => {
    if (name === undefined) return;
    const bad = secretNameProblem(name, options.secretNames);
    if (bad) return void problems.push({ file, path, message: bad });
    if (host === undefined) return;
    const first = hosts.get(name);
    const here = `${path.join(".")} in ${file}`;
    if (first && first.host !== host) {
      problems.push({ file, path, message: `${name} is already named for ${first.host} (${first.at}); a secret goes to one host only: name a variable of its own for ${host}` });
    } else if (!first) hosts.set(name, { host, at: here });
  };
  const defaultHost = options.gitlabHost?.toLowerCase() ?? "GITLAB_URL's host";
  for (const p of fragments.flatMap((f) => f.projects)) {
    const raw = p.raw as MapProject | undefined;
    const location = p.value.location;
    const host = location.forge === "gitlab" ? location.host ?? defaultHost : undefined;
    if (raw?.gitlab !== undefined && typeof raw.gitlab !== "string") {
      named(raw.gitlab.token_env, host, p.file, [...p.path, "gitlab", "token_env"]);
      named(raw.gitlab.webhook_secret_env, undefined, p.file, [...p.path, "gitlab", "webhook_secret_env"]);
    }
    named(p.value.trigger?.token_env, host, p.file, [...p.path, "trigger", "token_env"]);
    const jenkins = p.value.trigger?.jenkins;
    if (jenkins !== undefined) {
      const jenkinsHost = new URL(jenkins.url).host.toLowerCase();
      for (const k of ["user_env", "token_env", "password_env"] as const) named(jenkins[k], jenkinsHost, p.file, [...p.path, "trigger", "jenkins", k]);
      named(jenkins.notify_secret_env, undefined, p.file, [...p.path, "trigger", "jenkins", "notify_secret_env"]);
    }
    if (location.forge === "gerrit") {
      const gerritHost = new URL(location.url).host.toLowerCase();
      for (const [k, v] of [["user_env", location.userEnv], ["password_env", location.passwordEnv]] as const) named(v, gerritHost, p.file, [...p.path, "gerrit", k]);
      if (location.ssh) for (const [k, v] of [["user_env", location.ssh.userEnv], ["key_env", location.ssh.keyEnv]] as const) named(v, gerritHost, p.file, [...p.path, "gerrit", "ssh", k]);
    }
  }
  for (const s of fragments.flatMap((f) => f.subscribers ?? [])) {
    // Each secret goes to the subscriber's host; a webhook's URL variable is itself where it goes.
    const at = s.value.matrix?.homeserver ?? s.value.url;
    const host = at ? URL.parse(at)?.host.toLowerCase() : undefined;
    for (const [k, v] of envNames(s.value)) named(v, k === "url_env" ? undefined : host, s.file, [...s.path, ...k.split(".")]);
  }
  return problems;
}

/** Every fragment's projects (a map of one file: its own list, not a copy). */
const projectsOf = (fragments: Fragment[]): Placed<Project>[] => (fragments.length === 1 ? fragments[0]!.projects : fragments.flatMap((fr) => fr.projects));
/** Every fragment's edges (a map of one file: its own list, not a copy). */
const edgesOf = (fragments: Fragment[]): Placed<Edge>[] => (fragments.length === 1 ? fragments[0]!.edges : fragments.flatMap((fr) => fr.edges));
