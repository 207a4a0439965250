import { callRelay, relayBase } from "./relay-client.js";

/** `openci-relay rerun`: asks a running relay to run downstreams again (POST /api/v1/reruns). */
export async function rerunCommand(
  o: { upstream?: string | undefined; sha?: string | undefined; downstream?: string | undefined; url?: string | undefined },
  env: NodeJS.ProcessEnv, out: (s: string) => void, err: (s: string) => void,
): Promise<number> {
  const missing = (["upstream", "sha"] as const).filter((k) => !o[k]);
  if (missing.length > 0) {
    err(`openci-relay rerun: missing ${missing.map((m) => `--${m}`).join(" and ")}. Run 'openci-relay --help'.\n`);
    return 2;
  }
  const token = env.OPENCI_ADMIN_TOKEN;
  if (!token) {
    err("openci-relay rerun: set OPENCI_ADMIN_TOKEN to the relay's admin token.\n");
    return 2;
  }
  const base = relayBase(o.url, env);
  const res = await callRelay("rerun", base, "/api/v1/reruns", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ upstream: o.upstream, sha: o.sha, ...(o.downstream ? { downstream: o.downstream } : {}) }),
  });
  if (typeof res === "string") {
    err(res);
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string; problems?: string[] };
  if (res.status !== 202) {
    err(`openci-relay rerun: the relay answered ${res.status}: ${body.error ?? res.statusText}\n${(body.problems ?? []).map((p) => `  - ${p}\n`).join("")}`);
    return 1;
  }
  out(`re-run queued: ${o.downstream ?? "every failed downstream"} of ${o.upstream}@${o.sha}\n`);
  return 0;
}
