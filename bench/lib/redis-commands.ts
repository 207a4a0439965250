import { once } from "node:events";
import { connect } from "node:net";
import type { Stack } from "./stack.js";

export interface Counted {
  /** commands clients sent (EVALSHA counts one) */
  sent: number;
  /** commands scripts ran */
  inScripts: number;
  /** the most frequent sent commands, "name count" */
  top: string;
  byName: Map<string, number>;
}

/**
 * Redis commands while `during` runs, by MONITOR, leaving out the bench's own connection (it polls
 * the queue counts). Script commands follow the command that ran the script in MONITOR's order, so
 * they are the caller's.
 */
export async function countCommands(stack: Stack, during: () => Promise<unknown>): Promise<Counted> {
  // A raw socket, not ioredis's monitor(): under load its first MONITOR lines can arrive in the same
  // chunk as the OK, before it is in monitor mode, and it fails ("Command queue state error").
  const { host, port } = stack.redisClient.options;
  const socket = connect(port!, host!);
  await once(socket, "connect");
  const addr = (c: { localAddress?: string | undefined; localPort?: number | undefined }) => `${c.localAddress}:${c.localPort}`;
  const own = new Set([addr(stack.redisClient.stream), addr(socket)]);
  let sent = 0;
  let inScripts = 0;
  let caller = "";
  let rest = "";
  const byName = new Map<string, number>();
  const line = (l: string) => {
    const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"(?: "((?:[^"\\]|\\.)*)")?/.exec(l);
    if (!m) return;
    const [, source, command, first] = m as unknown as [string, string, string, string | undefined];
    if (source === "lua") {
      if (!own.has(caller)) inScripts++;
      return;
    }
    caller = source;
    if (own.has(source)) return;
    sent++;
    const name = /^eval(sha)?$/i.test(command) ? `${command.toLowerCase()}(${scriptName(first ?? "")})` : command.toLowerCase();
    byName.set(name, (byName.get(name) ?? 0) + 1);
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\r\n");
    rest = lines.pop()!;
    lines.forEach(line);
  });
  socket.write("MONITOR\r\n");
  try {
    await during();
  } finally {
    socket.destroy();
  }
  const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([n, c]) => `${n} ${c}`).join(", ");
  return { sent, inScripts, top, byName };
}

/** A script by its first words (EVAL) or its SHA's first 8 hex digits (EVALSHA, BullMQ's). */
function scriptName(bodyOrSha: string): string {
  return /^[0-9a-f]{40}$/.test(bodyOrSha) ? bodyOrSha.slice(0, 8) : bodyOrSha.replace(/\\n|\s+/g, " ").trim().slice(0, 40);
}
