/**
 * GitLab's documented attributes of a route (api/*.json, one row of the doc's table each) and the
 * check of what a client sent against them: every attribute must be documented, have the documented
 * type, and one of the documented values where the doc lists them. Rows named `a[b]` document the
 * keys of hash `a`, rows named `a[][b]` the keys of the hashes in array `a`.
 */
export interface DocParam {
  name: string;
  type: string;
  required: boolean | string;
  /** the only values the doc allows (written out from its description) */
  values?: string[];
}

type Kind = "integer" | "string" | "boolean" | "float" | "datetime" | "hash" | "array" | "array of strings";

export interface Attribute {
  name: string;
  kinds: Kind[];
  required: boolean;
  values?: string[];
  /** documented keys of a hash, or of each hash in an array */
  keys?: Map<string, Attribute>;
}

/** Pagination attributes GitLab documents once for every list endpoint. */
const PAGINATION: DocParam[] = [
  { name: "page", type: "integer", required: false },
  { name: "per_page", type: "integer", required: false },
  { name: "pagination", type: "string", required: false, values: ["keyset"] },
];

const WORDS: Record<Kind, string> = {
  integer: "an integer", string: "a string", boolean: "a boolean", float: "a number", datetime: "an ISO 8601 date and time",
  hash: "a hash", array: "an array", "array of strings": "an array of strings",
};

/** How the docs write types: "integer or string", "integer/string", "string or array of strings", "float", "datetime", "hash". */
function kindsOf(type: string, where: string): Kind[] {
  const kinds = type.split(/\s+or\s+|\//).map((t) => t.trim().toLowerCase());
  for (const k of kinds) if (!(k in WORDS)) throw new Error(`${where}: type '${type}' is not one the fake knows (${Object.keys(WORDS).join(", ")})`);
  return kinds as Kind[];
}

export function attributesOf(params: DocParam[], where: string): Map<string, Attribute> {
  const top = new Map<string, Attribute>();
  const all = [...params, ...PAGINATION.filter((p) => !params.some((q) => q.name === p.name))];
  for (const p of all) {
    const m = /^([^[]+)(?:\[(\])?\[?([^\]]+)\])?$/.exec(p.name);
    if (!m) throw new Error(`${where}: cannot read the attribute name '${p.name}'`);
    const [, parent, inArray, key] = m;
    const attribute: Attribute = {
      name: key ?? parent!, kinds: kindsOf(p.type, where), values: p.values,
      required: p.required === true || p.required === "yes",
    };
    if (key === undefined) {
      top.set(parent!, { ...attribute, keys: top.get(parent!)?.keys });
      continue;
    }
    const owner = top.get(parent!) ?? { name: parent!, kinds: [inArray ? "array" : "hash"], required: false };
    (owner.keys ??= new Map()).set(key, attribute);
    top.set(parent!, owner);
  }
  return top;
}

/**
 * Problems with the attributes a client sent. `text` holds what came as text (path, query string,
 * form fields: an integer is "12" there), `json` what came as a JSON body (an integer is 12 there).
 */
export function checkAttributes(documented: Map<string, Attribute>, sent: { text: Record<string, unknown>; json: Record<string, unknown> }): string[] {
  const problems: string[] = [];
  const given = { ...sent.text, ...sent.json };
  for (const a of documented.values()) if (a.required && given[a.name] === undefined) problems.push(`missing required '${a.name}'`);
  for (const [source, values] of [["text", sent.text], ["json", sent.json]] as const) {
    for (const [name, value] of Object.entries(values)) problems.push(...checkOne(name, value, documented.get(name), source === "text"));
  }
  return problems;
}

function checkOne(path: string, value: unknown, a: Attribute | undefined, text: boolean): string[] {
  if (!a) return [`'${path}' is not a documented parameter`];
  if (value === undefined) return [];
  const kind = a.kinds.find((k) => fits(k, value, text));
  if (!kind) return [`'${path}' must be ${a.kinds.map((k) => WORDS[k]).join(" or ")}, got ${JSON.stringify(value)}`];
  const problems: string[] = [];
  const scalars = kind === "array" || kind === "array of strings" ? (value as unknown[]) : [value];
  if (a.values && scalars.some((v) => typeof v !== "object" && !a.values!.includes(String(v)))) {
    problems.push(`'${path}' must be one of ${a.values.join(", ")}, got ${JSON.stringify(value)}`);
  }
  if (a.keys && kind === "hash") problems.push(...checkHash(path, value as Record<string, unknown>, a.keys, text));
  if (a.keys && kind === "array") {
    (value as unknown[]).forEach((item, i) => {
      if (typeof item !== "object" || item === null || Array.isArray(item)) problems.push(`'${path}[${i}]' must be a hash, got ${JSON.stringify(item)}`);
      else problems.push(...checkHash(`${path}[${i}]`, item as Record<string, unknown>, a.keys!, text));
    });
  }
  return problems;
}

function checkHash(path: string, value: Record<string, unknown>, keys: Map<string, Attribute>, text: boolean): string[] {
  const problems: string[] = [];
  for (const k of keys.values()) if (k.required && value[k.name] === undefined) problems.push(`missing required '${path}[${k.name}]'`);
  for (const [k, v] of Object.entries(value)) problems.push(...checkOne(`${path}[${k}]`, v, keys.get(k), text));
  return problems;
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function fits(kind: Kind, v: unknown, text: boolean): boolean {
  switch (kind) {
    case "integer":
      return text ? typeof v === "string" && /^-?\d+$/.test(v) : Number.isInteger(v);
    case "float":
      return text ? typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) : typeof v === "number";
    case "boolean":
      return text ? v === "true" || v === "false" : typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "datetime":
      return typeof v === "string" && ISO_8601.test(v);
    case "hash":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "array of strings":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
  }
}
