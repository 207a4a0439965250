import { callRelay, relayBase } from "./relay-client.js";

type Out = (s: string) => void;

interface SinkView {
  id: string; url: string; from: string; secret: string; attempts: number; pending: number;
  counts: { delivered: number; failedAttempts: number; deadLettered: number };
  dead: { job: string; cid: string; attempts: number; error: string; failedAt: string | null }[];
}

/**
 * `openci-relay sinks`: each subscriber with its deliveries and dead letters;
 * `openci-relay sinks redrive [--sink ID] [--cid CID]`: queues dead letters again.
 */
export async function sinksCommand(
  action: string | undefined, o: { sink?: string | undefined; cid?: string | undefined; url?: string | undefined },
  env: NodeJS.ProcessEnv, out: Out, err: Out,
): Promise<number> {
  if (action !== undefined && action !== "redrive") {
    err(`openci-relay sinks: unknown action '${action}' (use 'sinks' or 'sinks redrive'). Run 'openci-relay --help'.\n`);
    return 2;
  }
  const token = env.OPENCI_ADMIN_TOKEN;
  if (!token) return err("openci-relay sinks: set OPENCI_ADMIN_TOKEN to the relay's admin token.\n"), 2;
  const base = relayBase(o.url, env);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const res = action === "redrive"
    ? await callRelay("sinks", base, "/api/v1/sinks/redrive", { method: "POST", headers, body: JSON.stringify({ ...(o.sink ? { sink: o.sink } : {}), ...(o.cid ? { cid: o.cid } : {}) }) })
    : await callRelay("sinks", base, "/api/v1/sinks", { headers });
  if (typeof res === "string") return err(res), 1;
  const body = (await res.json().catch(() => ({}))) as { error?: string; redriven?: number; sinks?: SinkView[] };
  if (!res.ok) return err(`openci-relay sinks: the relay answered ${res.status}: ${body.error ?? res.statusText}\n`), 1;
  if (action === "redrive") {
    out(`re-driven: ${body.redriven ?? 0} dead letter(s)\n`);
    return 0;
  }
  const sinks = body.sinks ?? [];
  if (sinks.length === 0) out("no subscribers: set OPENCI_SINKS, or add 'subscribers' to the map\n");
  for (const s of sinks) {
    out(`${s.id}  ${s.url}  (${s.from}; secret ${s.secret})\n`
      + `  delivered ${s.counts.delivered}, pending ${s.pending}, failed attempts ${s.counts.failedAttempts}, dead letters ${s.dead.length}\n`);
    for (const d of s.dead) out(`  dead: ${d.cid} after ${d.attempts} attempts${d.failedAt ? ` (${d.failedAt})` : ""}: ${d.error}\n`);
  }
  return 0;
}
