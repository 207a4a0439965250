import type { Logger } from "pino";
import { gerritUrlKey, type DependencyMap, type GerritLocation, type Project } from "../map/graph.js";
import { loadSshClient, watchGerritStream, type GerritEvent, type GerritStream } from "../forge/gerrit-stream.js";
import { classifyHttpError } from "../forge/errors.js";
import { changeDeliveryId, deliveryJobId, watchTagDeliveryId } from "../queue/job-ids.js";
import type { ChangeEvent } from "../events/change-event.js";
import { key } from "../queue/names.js";
import type { TagEvent } from "../queue/job-data.js";
import { WatchState } from "../watch/watch-state.js";
import type { WorkerDeps } from "./deps.js";

/** How long a process holds a server's stream before another may take it over (renewed at a third of it). */
const LEASE_MS = 30_000;
/** How often the wanted streams are compared with the running ones (a map change adds or ends one). */
const RECONCILE_MS = 10_000;

/** One stream-events connection: a Gerrit server, the SSH account, the port. */
interface StreamSpec {
  id: string;
  url: string;
  host: string;
  port: number;
  userEnv: string;
  keyEnv: string;
  /** the host key the map pins, if any */
  hostKey: string | undefined;
}

export interface GerritStreams {
  stop(): Promise<void>;
}

/** The streams the map asks for: one per server and account, whatever number of projects it lists there. */
export function wantedStreams(map: DependencyMap): StreamSpec[] {
  const out = new Map<string, StreamSpec>();
  for (const p of map.projects()) {
    const l = p.location;
    if (l.forge !== "gerrit" || !l.ssh) continue;
    const host = new URL(l.url).hostname;
    const id = `${gerritUrlKey(l.url)}|${l.ssh.userEnv}|${l.ssh.port}`;
    if (!out.has(id)) out.set(id, { id, url: l.url, host, port: l.ssh.port, userEnv: l.ssh.userEnv, keyEnv: l.ssh.keyEnv, hostKey: l.ssh.hostKey });
  }
  return [...out.values()];
}

/**
 * Follows `gerrit stream-events` on every Gerrit server whose map entries give SSH credentials, so a
 * new tag is relayed at once instead of at the next poll (the poller stays on: the stream has no
 * replay, and a connection can be down). One process holds each server's stream at a time (a lease
 * in Redis), as a courtesy to the server; if it dies, another takes over within LEASE_MS.
 *
 * A tag event is resolved to its commit through the REST API (the stream names an annotated tag's
 * tag object) and enqueued exactly as the poller would (the same delivery id), then remembered in
 * the watch state: a tag both streamed and polled is one event.
 */
export function startGerritStreams(deps: WorkerDeps, env: NodeJS.ProcessEnv, log: Logger): GerritStreams {
  const running = new Map<string, { stream: GerritStream; renew: NodeJS.Timeout }>();
  const owner = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const state = new WatchState(deps.redis);
  const warned = new Set<string>();
  let stopped = false;

  const leaseKey = (spec: StreamSpec) => key("gerrit-stream", spec.id);
  const take = async (spec: StreamSpec) => (await deps.redis.set(leaseKey(spec), owner, "PX", LEASE_MS, "NX")) === "OK";
  const renew = async (spec: StreamSpec) => {
    // Extends the lease only while this process still holds it.
    const held = await deps.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
      1, leaseKey(spec), owner, String(LEASE_MS),
    );
    return held === 1;
  };

  const end = async (id: string) => {
    const r = running.get(id);
    if (!r) return;
    running.delete(id);
    clearInterval(r.renew);
    await r.stream.stop();
  };

  /** The SSH account and key the map names for a stream, read from the environment; warned about once when missing. */
  const credentials = (spec: StreamSpec): { user: string; privateKey: string } | undefined => {
    const user = env[spec.userEnv];
    const privateKey = env[spec.keyEnv];
    if (user && privateKey) return { user, privateKey };
    if (!warned.has(spec.id)) {
      warned.add(spec.id);
      log.warn({ gerrit: spec.url, missing: [!user ? spec.userEnv : undefined, !privateKey ? spec.keyEnv : undefined].filter(Boolean) },
        "gerrit stream-events: the map's ssh variables are not set; this server's tags are only polled. Set them to follow its stream");
    }
    return undefined;
  };

  const start = (spec: StreamSpec, { user, privateKey }: { user: string; privateKey: string }) => {
    const stream = watchGerritStream({
      host: spec.host, port: spec.port, user, privateKey, log, ...(spec.hostKey ? { hostKey: spec.hostKey } : {}),
      onEvent: (event) => onEvent(spec, event),
    });
    const timer = setInterval(() => {
      renew(spec).then((held) => {
        if (!held) {
          log.info({ gerrit: spec.url }, "gerrit stream-events: lease lost to another process; this one stops following the stream");
          return end(spec.id);
        }
        return undefined;
      }, (err: Error) => log.warn({ err: err.message }, "gerrit stream-events: cannot renew the lease (Redis?)"));
    }, LEASE_MS / 3);
    running.set(spec.id, { stream, renew: timer });
    log.info({ gerrit: spec.url }, "gerrit stream-events: following this server's stream (the poller stays on)");
  };

  const onEvent = async (spec: StreamSpec, event: GerritEvent) => {
    const upstreams = deps.map().projectsAt({ forge: "gerrit", url: spec.url, project: event.project });
    if (upstreams.length === 0) return; // the stream carries every project the account can see
    if (event.type === "tag") {
      for (const upstream of upstreams) await relayTag(upstream, event);
      return;
    }
    // A change's patch set (new, or a recheck): only where an edge tests this upstream's changes.
    const upstream = upstreams.find((u) => deps.map().changeDependants(u.id).length > 0);
    if (upstream) await relayChange(upstream, event);
  };

  const relayChange = async (upstream: Project, event: Exclude<GerritEvent, { type: "tag" }>) => {
    const location = upstream.location as GerritLocation;
    const recheck = event.type === "recheck";
    const deliveryId = changeDeliveryId({
      server: gerritUrlKey(location.url), change: event.change, patchSet: event.patchSet,
      recheck: recheck ? { author: event.author, createdOn: event.createdOn } : undefined,
    });
    const change: ChangeEvent = {
      forge: "gerrit", host: location.url, repo: location.project, change: event.change, patchSet: event.patchSet,
      ref: event.ref, revision: event.revision, recheck, deliveryId, receivedAt: new Date().toISOString(),
    };
    try {
      await deps.queues.events.add("change", change, { jobId: deliveryJobId("gerrit", deliveryId) });
      log.info({ upstream: upstream.id, change: event.change, patchSet: event.patchSet, recheck }, "gerrit stream-events: change enqueued");
    } catch (error) {
      log.warn({ upstream: upstream.id, change: event.change, err: (error as Error).message }, "gerrit stream-events: cannot enqueue the change (Redis?)");
    }
  };

  const relayTag = async (upstream: Project, event: Extract<GerritEvent, { type: "tag" }>) => {
    const location = upstream.location as GerritLocation;
    try {
      const sha = await deps.systems.source({ forge: "gerrit", repo: location.project, host: location.url }).resolveTag(location.project, event.tag, event.sha);
      if ((await state.tags(upstream.id)).get(event.tag) === sha) return; // the poller got there first
      const tagEvent: TagEvent = {
        forge: "gerrit", host: location.url, repo: location.project, tag: event.tag, sha, source: "stream",
        deliveryId: watchTagDeliveryId(upstream.id, event.tag, sha), receivedAt: new Date().toISOString(),
      };
      await deps.queues.events.add("tag", tagEvent, { jobId: deliveryJobId("watch", tagEvent.deliveryId) });
      await state.streamed(upstream.id, { name: event.tag, sha });
      log.info({ upstream: upstream.id, tag: event.tag, sha }, "gerrit stream-events: new tag enqueued");
    } catch (error) {
      const e = classifyHttpError(error, `resolving ${event.tag} of ${location.project}`);
      log.warn({ upstream: upstream.id, tag: event.tag, err: e.message, hint: e.hint }, "gerrit stream-events: cannot resolve the streamed tag; the poller will find it");
    }
  };

  let sshUnloadable = false;
  const reconcile = async () => {
    const wanted = new Map(wantedStreams(deps.map()).map((s) => [s.id, s]));
    for (const id of running.keys()) if (!wanted.has(id)) await end(id);
    for (const spec of wanted.values()) {
      if (stopped || running.has(spec.id)) continue;
      // A process without the credentials never takes the lease: it would hold the stream without following it.
      const creds = credentials(spec);
      if (!creds) continue;
      // ssh2 is imported with the first stream this process follows (watchGerritStream then connects at once);
      // a failed import is said once, with its own words (it names ssh2 and npm ci), and tried again next round.
      try {
        await loadSshClient();
        sshUnloadable = false;
      } catch (error) {
        if (!sshUnloadable) log.error({ err: (error as Error).message }, "gerrit stream-events: cannot follow any stream: the SSH client cannot be loaded; the poller still reads the tags");
        sshUnloadable = true;
        return;
      }
      if (await take(spec)) start(spec, creds);
    }
  };
  let reconciling: Promise<void> = Promise.resolve();
  const tick = () => {
    reconciling = reconcile().catch((err: Error) => log.warn({ err: err.message }, "gerrit stream-events: cannot reconcile the streams (Redis?)"));
  };
  tick();
  const timer = setInterval(tick, RECONCILE_MS);

  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await reconciling;
      for (const id of [...running.keys()]) {
        await end(id);
        // Let another process take the stream at once.
        await deps.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end", 1, key("gerrit-stream", id), owner).catch(() => undefined);
      }
    },
  };
}
