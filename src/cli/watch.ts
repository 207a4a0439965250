import { z } from "zod";
import { callRelay, relayBase } from "./relay-client.js";

type Out = (s: string) => void;

const WatchedView = z.object({
  id: z.string(), forge: z.string(), repo: z.string(), host: z.string().optional(), intervalMs: z.number(),
  baselineAt: z.string().nullable(), lastPollAt: z.string().nullable(), nextPollAt: z.string().nullable(),
  lastNewTag: z.string().nullable(), lastError: z.string().nullable(), polls: z.number(), notModified: z.number(),
});
const WatchAnswer = z.object({ upstreams: z.array(WatchedView) });

/**
 * `openci-relay watch [--json]`: the watched upstreams (git hosts, `watch:` entries) of a running
 * relay, from GET /api/v1/watch: last and next poll, last new tag, the share of polls answered 304,
 * the last error.
 */
export async function watchCommand(o: { url?: string | undefined; json?: boolean | undefined }, env: NodeJS.ProcessEnv, out: Out, err: Out): Promise<number> {
  const token = env.OPENCI_ADMIN_TOKEN;
  if (!token) return err("openci-relay watch: set OPENCI_ADMIN_TOKEN to the relay's admin token.\n"), 2;
  const base = relayBase(o.url, env);
  const res = await callRelay("watch", base, "/api/v1/watch", { headers: { authorization: `Bearer ${token}` } });
  if (typeof res === "string") return err(res), 1;
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) return err(`openci-relay watch: the relay answered ${res.status}: ${body.error ?? res.statusText}\n`), 1;
  const parsed = WatchAnswer.safeParse(body);
  if (!parsed.success) return err(`openci-relay watch: the relay at ${base} answered something else than the list of watched upstreams (an older relay?): ${parsed.error.issues[0]?.message}\n`), 1;
  if (o.json) {
    out(`${JSON.stringify(parsed.data, null, 2)}\n`);
    return 0;
  }
  const { upstreams } = parsed.data;
  if (upstreams.length === 0) out("no watched upstreams: a git: upstream, or a map entry with 'watch:', is watched once a worker has scheduled it\n");
  for (const u of upstreams) {
    const share = u.polls === 0 ? "no polls yet" : `${u.notModified} of ${u.polls} polls answered 304 (${Math.round((100 * u.notModified) / u.polls)}%)`;
    out(`${u.id}  ${u.forge} ${u.host ? `${u.host}/` : ""}${u.repo}  every ${seconds(u.intervalMs)}\n`
      + `  last poll ${u.lastPollAt ?? "never"}, next ${u.nextPollAt ?? "not scheduled"}; ${u.baselineAt ? `last new tag ${u.lastNewTag ?? "none since the baseline"}` : "no baseline yet"}; ${share}\n`);
    if (u.lastError) out(`  error: ${u.lastError}\n`);
  }
  return 0;
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}
