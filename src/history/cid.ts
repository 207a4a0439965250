import * as dagJson from "@ipld/dag-json";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";

/** dag-json's multicodec code (0x0129); CIDv1 with sha2-256, as the issue and IPFS tooling expect. */
export const DAG_JSON = dagJson.code;

/** Canonical dag-json bytes of a value (sorted keys, no whitespace; `undefined` fields left out). */
export function encode(value: unknown): Uint8Array {
  return dagJson.encode(withoutUndefined(value));
}

export function decode<T = unknown>(bytes: Uint8Array): T {
  return dagJson.decode<T>(bytes);
}

/** The CIDv1 (dag-json, sha2-256) of these bytes. */
export async function cidOf(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(DAG_JSON, await sha256.digest(bytes));
}

/** Encodes a value and addresses it. */
export async function block(value: unknown): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = encode(value);
  return { cid: await cidOf(bytes), bytes };
}

/**
 * Why these bytes are not the block `cid` names, or undefined when they are: the hash must match,
 * and the bytes must be canonical dag-json (decoding and encoding again gives the same bytes).
 */
export async function checkBlock(cid: CID, bytes: Uint8Array): Promise<string | undefined> {
  if (cid.multihash.code !== sha256.code) return `hash function 0x${cid.multihash.code.toString(16)} is not sha2-256`;
  const digest = await sha256.digest(bytes);
  if (!equalBytes(digest.digest, cid.multihash.digest)) return "content does not match its CID (the block was changed)";
  if (cid.code !== DAG_JSON) return undefined;
  try {
    if (!equalBytes(dagJson.encode(dagJson.decode(bytes)), bytes)) return "not canonical dag-json";
  } catch (error) {
    return `not dag-json: ${(error as Error).message}`;
  }
  return undefined;
}

export function parseCid(text: string): CID | undefined {
  try {
    return CID.parse(text);
  } catch {
    return undefined;
  }
}

/** Every CID a decoded value links to. */
export function linksOf(value: unknown): CID[] {
  const out: CID[] = [];
  const walk = (v: unknown) => {
    const cid = CID.asCID(v);
    if (cid) out.push(cid);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object" && !(v instanceof Uint8Array)) Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

function withoutUndefined(v: unknown): unknown {
  if (CID.asCID(v) || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(withoutUndefined);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, withoutUndefined(x)]));
  }
  return v;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
