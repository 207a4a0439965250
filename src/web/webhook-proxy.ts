import type { Logger } from "pino";
import { SmeeClient } from "smee-client";

export interface WebhookProxy {
  stop(): Promise<void>;
}

/**
 * WEBHOOK_PROXY_URL (Probot's convention): GitHub delivers to a smee.io channel, and this process
 * follows the channel (server-sent events) and posts each delivery to its own webhook route, with
 * GitHub's headers, so the signature is checked as for a direct delivery. For a laptop or any
 * relay GitHub cannot reach. The channel's URL is a secret of sorts: whoever has it reads the deliveries.
 */
export async function startWebhookProxy(o: { source: string; target: string; log: Logger; timeoutMs?: number }): Promise<WebhookProxy> {
  const log = o.log.child({ name: "webhook-proxy" });
  const client = new SmeeClient({
    source: o.source,
    target: o.target,
    // smee-client logs a line per forwarded delivery and its connection errors.
    logger: { info: (...args: unknown[]) => log.debug(args.map(String).join(" ")), error: (...args: unknown[]) => log.warn(args.map(describe).join(" ")) },
    maxConnectionTimeout: o.timeoutMs ?? 30_000,
  });
  await client.start();
  log.info({ channel: redactChannel(o.source), target: o.target }, "forwarding deliveries from the webhook proxy channel");
  return { stop: () => client.stop() };
}

function describe(x: unknown): string {
  return x instanceof Error ? x.message : typeof x === "object" && x !== null && "message" in x ? String((x as { message: unknown }).message) : String(x);
}

/** The channel's host and the first characters of its name: enough to tell channels apart in a log, not to read one. */
export function redactChannel(url: string): string {
  const u = new URL(url);
  const name = u.pathname.replace(/^\/+/, "");
  return `${u.origin}/${name.slice(0, 4)}…`;
}
