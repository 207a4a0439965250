import { z } from "zod";
import { nearest } from "./nearest.js";

type Path = (string | number)[];

/** A schema problem; `key`: an unknown key, written at that key of the mapping at `path`. */
export interface SchemaProblem {
  path: Path;
  key?: string;
  message: string;
}

/**
 * A file checked against its schema, with what is valid in it kept, so that the other checks
 * (references, cycles) still run on the rest of the file and every problem is reported at once.
 */
export interface CheckedSchema<T> {
  /** the valid part (undefined: nothing could be read) */
  data: T | undefined;
  /** each mistake once, as the file writes its path */
  problems: SchemaProblem[];
  /** where values were left out (paths in `data`'s terms): later checks must not report what their absence causes */
  broken: Path[];
  /** ids of projects and foundations left out whole ("project:ID", "foundation:ID"): references to them are no new mistake */
  lost: Set<string>;
  /** a path in `data` as a path in the file (list indices before entries were left out) */
  origin: (path: Path) => Path;
  /** a path in the file's terms after typos were read as their suggestion, as the file writes it */
  written: (path: Path) => Path;
}

const REMOVED = Symbol("removed");
const MAX_ROUNDS = 8;
const same = (path: Path) => path;
const keyOf = (path: Path) => JSON.stringify(path);
const isPrefix = (prefix: Path, path: Path) => prefix.length <= path.length && prefix.every((k, i) => path[i] === k);

/** Lists whose items are entries of their own (a project, an edge, a foundation, a subscriber): a broken one is left out alone. */
const isEntryList = (list: Path) =>
  (list.length === 1 && ["projects", "foundations", "subscribers", "depends_on"].includes(list[0] as string)) ||
  (list.length === 3 && list[0] === "projects" && list[2] === "depends_on");

/**
 * Checks `input` against `schema`. On problems, reports each once (an unknown key at that key,
 * with the nearest valid key suggested, or, when `otherFormat` takes it, that format's hint), then
 * reads a typo as the key it suggests (when that key is not written too), leaves out what is
 * invalid (the value, else its entry) and checks again, until what is left is valid.
 */
export function checkSchema<S extends z.ZodType>(schema: S, input: unknown, otherFormat?: { schema: z.ZodType; hint: string }): CheckedSchema<z.output<S>> {
  const first = compiled(schema).safeParse(input);
  if (first.success) return { data: first.data, problems: [], broken: [], lost: new Set(), origin: same, written: same };

  const work = structuredClone(input) as unknown;
  const problems: SchemaProblem[] = [];
  const renames = new Map<string, string>(); // the renamed key's path (in work's terms) → the key as written
  const pruned: Path[] = [];
  const lost = new Set<string>();
  const written = (path: Path) => path.map((k, i) => (typeof k === "string" ? renames.get(keyOf(path.slice(0, i + 1))) ?? k : k));
  const inRenamed = (path: Path) => path.some((_, i) => renames.has(keyOf(path.slice(0, i + 1))));

  const removeEntry = (path: Path): boolean => {
    for (let i = path.length - 1; i > 0; i--) {
      if (typeof path[i] !== "number" || !isEntryList(path.slice(0, i))) continue;
      const list = get(work, path.slice(0, i)) as unknown[];
      const entry = list[path[i] as number] as { id?: unknown } | undefined;
      if (i === 1 && (path[0] === "projects" || path[0] === "foundations") && typeof entry?.id === "string") {
        lost.add(`${path[0] === "projects" ? "project" : "foundation"}:${entry.id}`);
      }
      list[path[i] as number] = REMOVED;
      pruned.push(path.slice(0, i + 1));
      return true;
    }
    return path.length > 0 && removeValue(path.slice(0, 1));
  };
  const removeValue = (path: Path): boolean => {
    if (path.length === 0) return false;
    const last = path[path.length - 1]!;
    const parent = path.slice(0, -1);
    const holder = get(work, parent);
    if (typeof last === "number") {
      if (isEntryList(parent)) return removeEntry(path);
      if (Array.isArray(holder) && last < holder.length) holder[last] = REMOVED;
    } else if (holder && typeof holder === "object") {
      delete (holder as Record<string, unknown>)[last];
    }
    pruned.push(path);
    return true;
  };

  let issues = first.error.issues;
  let origin: (path: Path) => Path = same;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const renamedNow = new Set<string>();
    const found = new Map<object, SchemaProblem[]>(); // kept in the schema's order
    const report = (issue: object, problem: SchemaProblem) => (found.get(issue) ?? found.set(issue, []).get(issue)!).push(problem);
    for (const issue of issues) {
      if (issue.code !== "unrecognized_keys") continue;
      const at = origin(issue.path as Path);
      const holder = get(work, at) as Record<string, unknown>;
      const valid = keysAt(schema, at);
      for (const key of issue.keys) {
        const elsewhere = otherFormat && keysAt(otherFormat.schema, at).includes(key);
        const suggestion = elsewhere ? undefined : nearest(key, valid);
        report(issue, {
          path: written(at), key,
          message: elsewhere ? `unknown key '${key}' ${otherFormat.hint}`
            : suggestion ? `unknown key '${key}': did you mean '${suggestion}'?`
            : `unknown key '${key}': remove it${valid.length > 0 ? `, or use one of: ${valid.join(", ")}` : ""}`,
        });
        if (suggestion && !(suggestion in holder)) {
          holder[suggestion] = holder[key];
          renames.set(keyOf([...at, suggestion]), key);
          renamedNow.add(keyOf([...at, suggestion]));
        } else pruned.push([...at, key]);
        delete holder[key];
      }
    }
    for (const issue of issues) {
      if (issue.code === "unrecognized_keys") continue;
      const at = origin(issue.path as Path);
      if (renamedNow.has(keyOf(at))) continue; // a typo's key, read as its suggestion: checked next round
      const fresh = (round === 0 || inRenamed(at)) && !pruned.some((p) => isPrefix(p, at));
      if (fresh) {
        const missing = missingKey(work, at, issue);
        report(issue, missing ? { ...missing, path: written(missing.path) } : { path: written(at), message: issue.message });
      }
      // a fresh mistake or a consequence: leave out the value; a value already left out: its entry
      const done = pruned.some((p) => keyOf(p) === keyOf(at)) ? removeEntry(at) : removeValue(at);
      if (!done) {
        problems.push(...issues.flatMap((i) => found.get(i) ?? []));
        return { data: undefined, problems, broken: pruned, lost, origin: same, written };
      }
    }
    problems.push(...issues.flatMap((i) => found.get(i) ?? []));
    const { value, origins } = compact(work);
    const next = schema.safeParse(value);
    origin = (path) => fromCompact(path, origins);
    if (next.success) return { data: next.data, problems, broken: pruned, lost, origin, written };
    issues = next.error.issues;
  }
  return { data: undefined, problems, broken: pruned, lost, origin: same, written };
}

/**
 * The schema as zod's generated parser (z.compile): the same answer, about half the time on a map
 * of 100,000 edges. An input it rejects is parsed again by zod's own parser, so every problem is
 * the one zod reports; the problems' later rounds use `schema` itself.
 */
function compiled<S extends z.ZodType>(schema: S): S {
  let fast = compiledSchemas.get(schema);
  if (fast === undefined) {
    fast = z.compile(schema);
    compiledSchemas.set(schema, fast);
  }
  return fast as S;
}
const compiledSchemas = new WeakMap<z.ZodType, z.ZodType>();

/** A required key left out, said so (zod's "expected string, received undefined" does not say it is missing). */
function missingKey(work: unknown, at: Path, issue: z.core.$ZodIssue): SchemaProblem | undefined {
  const key = at[at.length - 1];
  const holder = get(work, at.slice(0, -1));
  if (issue.code !== "invalid_type" || !issue.message.startsWith("Invalid input: expected") || typeof key !== "string") return undefined;
  if (holder === null || typeof holder !== "object" || Array.isArray(holder) || key in holder) return undefined;
  return { path: at.slice(0, -1), message: `'${key}' is required: add it` };
}

function get(node: unknown, path: readonly PropertyKey[]): unknown {
  for (const k of path) node = node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[k] : undefined;
  return node;
}

/** A copy without the entries left out; for each list, the index each kept item had. */
function compact(node: unknown, path: Path = [], origins = new Map<string, number[]>()): { value: unknown; origins: Map<string, number[]> } {
  if (Array.isArray(node)) {
    const kept: unknown[] = [];
    const from: number[] = [];
    node.forEach((item, i) => {
      if (item === REMOVED) return;
      kept.push(compact(item, [...path, i], origins).value);
      from.push(i);
    });
    origins.set(keyOf(path), from);
    return { value: kept, origins };
  }
  if (node !== null && typeof node === "object") {
    return { value: Object.fromEntries(Object.entries(node).map(([k, v]) => [k, compact(v, [...path, k], origins).value])), origins };
  }
  return { value: node, origins };
}

function fromCompact(path: Path, origins: Map<string, number[]>): Path {
  const out: Path = [];
  for (const k of path) out.push(typeof k === "number" ? origins.get(keyOf(out))?.[k] ?? k : k);
  return out;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  getter?: () => z.ZodType;
}
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas `s` stands for, past optional, default, union and the like. */
function unwrap(s: z.ZodType): z.ZodType[] {
  const def = defOf(s);
  if (def.options) return def.options.flatMap(unwrap);
  const inner = def.innerType ?? def.in ?? def.getter?.();
  return inner ? unwrap(inner) : [s];
}

/** The keys the schema takes in the mapping at `path`. */
export function keysAt(schema: z.ZodType, path: Path): string[] {
  let nodes = unwrap(schema);
  for (const k of path) {
    nodes = nodes.flatMap((n) => {
      const def = defOf(n);
      if (typeof k === "number") return def.type === "array" && def.element ? unwrap(def.element) : [];
      return def.type === "object" && def.shape?.[k] ? unwrap(def.shape[k]) : [];
    });
  }
  return [...new Set(nodes.flatMap((n) => (defOf(n).type === "object" ? Object.keys(defOf(n).shape ?? {}) : [])))];
}
