import { createReadStream, createWriteStream } from "node:fs";
import { once } from "node:events";
import { verifyCar } from "../history/car.js";
import { PartJoiner } from "../history/car-parts.js";
import { callRelay, relayBase } from "./relay-client.js";

type Out = (s: string) => void;

/**
 * `openci-relay export [--since DATE] [--output FILE] [--private [--token-env NAME]]`: the running
 * relay's public history as a CAR file (GET /api/v1/history.car), to stdout or FILE; with
 * --private every record, public and private, sending the read token from the environment (never
 * from the command line, where other users and shell history would see it). A summary goes to stderr.
 */
export async function exportCommand(
  o: { since?: string | undefined; url?: string | undefined; output?: string | undefined; private?: boolean | undefined; "token-env"?: string | undefined },
  env: NodeJS.ProcessEnv, writeBytes: (b: Uint8Array) => Promise<void>, err: Out,
): Promise<number> {
  if (o.since !== undefined && Number.isNaN(Date.parse(o.since))) {
    err(`openci-relay export: --since must be a date or date-time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z. Run 'openci-relay --help'.\n`);
    return 2;
  }
  const tokenEnv = o["token-env"] ?? "OPENCI_READ_TOKEN";
  if (o["token-env"] !== undefined && !o.private) return err("openci-relay export: --token-env goes with --private (the public history needs no token). Run 'openci-relay --help'.\n"), 2;
  const token = o.private ? env[tokenEnv] : undefined;
  if (o.private && !token) {
    err(`openci-relay export: --private needs the relay's read token: set ${tokenEnv} to its OPENCI_READ_TOKEN (or admin token)${o["token-env"] ? "" : ", or name another variable with --token-env NAME"}.\n`);
    return 2;
  }
  const base = relayBase(o.url, env);
  const ask = async (after?: string): Promise<Response | number> => {
    const query = new URLSearchParams({
      ...(o.since !== undefined ? { since: new Date(Date.parse(o.since!)).toISOString() } : {}), ...(o.private ? { private: "1" } : {}), ...(after ? { after } : {}),
    }).toString();
    const res = await callRelay("export", base, `/api/v1/history.car${query ? `?${query}` : ""}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    if (typeof res === "string") return err(res), 1;
    if (res.status === 401) {
      err(`openci-relay export: the relay refused the token in ${tokenEnv} (401): it must be the relay's OPENCI_READ_TOKEN or OPENCI_ADMIN_TOKEN.\n`);
      return 1;
    }
    if (res.status !== 200 || !res.body) {
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      err(`openci-relay export: the relay answered ${res.status}${after ? ` for the part after ${after}` : ""}: ${body.error ?? res.statusText}\n`);
      return 1;
    }
    return res;
  };
  const first = await ask();
  if (typeof first === "number") return first;
  const file = o.output ? createWriteStream(o.output) : undefined;
  let bytes = 0;
  const write = async (chunk: Uint8Array) => {
    bytes += chunk.length;
    if (file) {
      if (!file.write(chunk)) await once(file, "drain");
    } else {
      await writeBytes(chunk);
    }
  };
  const done = async (records: string, root: string, parts: number) => {
    if (file) await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
    err(`exported ${records} ${o.private ? "public and private " : ""}records (${bytes} bytes${parts > 1 ? `, joined from ${parts} parts` : ""}), root ${root}${o.output ? ` to ${o.output}` : ""}\n`);
    return 0;
  };
  // One part: passed through as it comes. Several (the relay serves a long history in parts of
  // OPENCI_EXPORT_PART_RECORDS): joined into one file with the root a single part would have had.
  if (!first.headers.get("x-openci-next")) {
    for await (const chunk of first.body!) await write(chunk);
    return done(first.headers.get("x-openci-records") ?? "?", first.headers.get("x-openci-root") ?? "?", 1);
  }
  const joiner = new PartJoiner();
  try {
    let next = await joiner.add(first.body!);
    while (next !== undefined) {
      const part = await ask(next);
      if (typeof part === "number") return await joiner.discard(), part;
      const after: string = next;
      next = await joiner.add(part.body!);
      if (next === after) throw new Error(`the relay gave the same cursor ${after} twice`);
    }
  } catch (error) {
    await joiner.discard();
    err(`openci-relay export: a part of the export could not be read: ${(error as Error).message}\n`);
    return 1;
  }
  const { root, records } = await joiner.write(write);
  return done(String(records), root.toString(), joiner.parts);
}

/** `openci-relay verify FILE.car`: recomputes every CID; exit 0 when intact, 1 when anything was changed or is missing. */
export async function verifyCommand(file: string, out: Out, err: Out): Promise<number> {
  let report;
  try {
    report = await verifyCar(createReadStream(file));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    err(`openci-relay verify: ${e.code === "ENOENT" ? `no file ${file}` : `${file} is not a readable CAR file (${e.message})`}\n`);
    return 1;
  }
  for (const t of report.tampered) err(`${file}: block ${t.cid}: ${t.problem}\n`);
  for (const m of report.missing) err(`${file}: block ${m} is listed by the export but missing\n`);
  for (const u of report.unlisted) err(`${file}: block ${u} is not listed by the export's manifest\n`);
  const ok = report.tampered.length === 0 && report.missing.length === 0 && report.unlisted.length === 0;
  out(`${ok ? "ok" : "FAILED"}: ${report.blocks} blocks, ${report.tampered.length} changed, ${report.missing.length} missing; root ${report.roots.join(", ")}`
    + `${report.outside > 0 ? `; ${report.outside} links to earlier records outside this export` : ""}\n`);
  return ok ? 0 : 1;
}
