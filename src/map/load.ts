import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import jsYaml from "js-yaml";
import { LineCounter, parseDocument, type Document } from "yaml";
import { checkGraph } from "./check-graph.js";
import { checkReferences, withSuggestion, type MapProblem } from "./check-references.js";
import { DEFAULT_CASCADE_HOP_LIMIT, DependencyMap, locationKey, ownerKey, type Edge, type MapOptions, type Project, type ProjectLocation } from "./graph.js";
import { fromDeclaration, fromV1, fromV2, type Fragment, type Placed } from "./normalise.js";
import { PairSet } from "./pair-set.js";
import { Declaration, MapV1, MapV2 } from "./schema.js";
import { checkSchema, type SchemaProblem } from "./schema-problems.js";

/** A problem at a place in a file, as `FILE:LINE:COL: message`. */
export interface LocatedProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export const formatProblem = (p: LocatedProblem) => `${p.file}:${p.line}:${p.column}: ${p.message}`;

export class MapError extends Error {
  override name = "MapError";
  constructor(
    readonly source: string,
    readonly problems: LocatedProblem[],
  ) {
    super(`Invalid dependency map ${source}:\n${problems.map((p) => `  ${formatProblem(p)}`).join("\n")}`);
  }
}

export interface LoadedMap {
  map: DependencyMap;
  /** Not errors, but worth a look: orphaned projects, empty foundations, cascades that cannot happen. */
  warnings: LocatedProblem[];
  files: string[];
  /** the texts read, to merge again with other sources */
  texts: { file: string; text: string }[];
  /** problems of downstream declarations that were left out */
  refusedDeclarations: LocatedProblem[];
}

/** One map text, as the relay's tests and the harness give it. Throws MapError. */
export function parseMap(text: string, file = "<map>", options: MapOptions = {}): DependencyMap {
  return parseMapFiles([{ file, text }], file, options).map;
}

/** The map at `path`: one YAML file, or every .yml/.yaml file below a directory (e.g. one per foundation). */
export function loadMap(path: string, options: MapOptions = {}): LoadedMap {
  let files: string[];
  try {
    files = statSync(path).isDirectory() ? yamlFilesIn(path) : [path];
  } catch (error) {
    throw new MapError(path, [{ file: path, line: 0, column: 0, message: `cannot be read (${(error as Error).message}); set OPENCI_MAP to your map file or folder` }]);
  }
  if (files.length === 0) throw new MapError(path, [{ file: path, line: 0, column: 0, message: "holds no .yml or .yaml file" }]);
  const texts = files.map((file) => {
    try {
      return { file, text: readFileSync(file, "utf8") };
    } catch (error) {
      throw new MapError(path, [{ file, line: 0, column: 0, message: `cannot be read (${(error as Error).message})` }]);
    }
  });
  return parseMapFiles(texts, path, options);
}

/** Kept for callers that want only the map (index.ts before map sources existed). */
export function loadMapFile(file: string, options: MapOptions = {}): DependencyMap {
  return loadMap(file, options).map;
}

function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort((a, b) => relative(dir, a).localeCompare(relative(dir, b)));
}

interface Parsed {
  fragment: Fragment | undefined;
  /** a declaration, parsed */
  data?: unknown;
  problems: LocatedProblem[];
  /** exactly where `path` is written (parses the file again with `yaml`: for errors) */
  locate: (path: readonly PropertyKey[]) => { line: number; column: number };
  /** where the mapping or list holding `path` starts (from the fast parse: for warnings) */
  near: (path: readonly PropertyKey[]) => { line: number; column: number };
  /** where invalid values were left out of `fragment` (the references and graph still check the rest) */
  broken?: (string | number)[][];
  /** "project:ID" and "foundation:ID" of entries left out whole */
  lost?: Set<string>;
  /** a fragment's path as the file writes it (a typo read as the key it suggests is named as written) */
  written?: (path: (string | number)[]) => (string | number)[];
}

/** A downstream repository's own declaration, read from the repository at `location`. */
export interface DeclarationText {
  file: string;
  text: string;
  location: ProjectLocation;
}

/** Parses, merges and checks map texts; every problem of every file at once. */
export function parseMapFiles(
  texts: { file: string; text: string }[], source: string, options: MapOptions = {}, declarations: DeclarationText[] = [],
): LoadedMap {
  const parsed = new Map(texts.map(({ file, text }) => [file, parseOne(text, file, options)]));
  const problems = [...parsed.values()].flatMap((p) => p.problems);
  const fragments = [...parsed.values()].flatMap((p) => (p.fragment ? [p.fragment] : []));
  const place = (p: MapProblem): LocatedProblem => {
    const file = parsed.get(p.file)!;
    const path = file.written?.(p.path) ?? p.path;
    return { file: p.file, ...file.locate(path), message: describe(path, p.message) };
  };
  const placeNear = (p: MapProblem): LocatedProblem => ({ file: p.file, ...parsed.get(p.file)!.near(p.path), message: describe(p.path, p.message) });

  // Every check runs on what is valid, whatever else is wrong; what a schema problem already
  // explains (a value left out, an entry left out, a file that cannot be read) is not reported again.
  const unreadable = [...parsed.values()].some((p) => !p.fragment);
  const lost = new Set([...parsed.values()].flatMap((p) => [...(p.lost ?? [])]));
  const explained = (p: MapProblem) =>
    (p.unknown !== undefined && (unreadable || lost.has(`${p.unknown.kind}:${p.unknown.id}`))) ||
    (parsed.get(p.file)?.broken ?? []).some((b) => within(b, p.path) || (within(p.path, b) && b.slice(p.path.length).every((k) => typeof k === "string")));
  problems.push(...checkReferences(fragments, options).filter((p) => !explained(p)).map((p) => place(withSuggestion(p, fragments))));
  const cascadeHopLimit = fragments.find((f) => f.cascadeHopLimit !== undefined)?.cascadeHopLimit ?? DEFAULT_CASCADE_HOP_LIMIT;
  const graph = checkGraph(problems.length === 0 ? fragments : soundEdges(fragments), cascadeHopLimit);
  // a cascade_hop_limit left out for its own problem makes the limit 5: chains over it are no new mistake
  const limitBroken = [...parsed.values()].some((p) => (p.broken ?? []).some((b) => b[0] === "settings"));
  problems.push(...graph.errors.filter((e) => !(limitBroken && e.path[e.path.length - 1] === "cascade")).map(place));
  if (problems.length > 0) throw new MapError(source, problems);

  // Downstreams' own declarations join a valid map: all at once when they fit together (one check
  // of the whole map), else one by one, so a bad one is left out with its problems and never
  // takes the rest of the map down with it.
  let all = fragments;
  let warnings = graph.warnings.map(placeNear);
  const index = declarations.length > 0 ? indexProjects(fragments) : { byLocation: new Map(), byId: new Map() };
  const quota = withinQuota(declarations, index, options);
  const refused: LocatedProblem[] = [...quota.refused];
  declarations = quota.kept;
  const together = declarations.map((d) => ({ d, attempt: withDeclaration(index, d, options) }));
  const fitting = together.flatMap(({ d, attempt }) => ("fragment" in attempt ? [{ d, attempt }] : []));
  if (fitting.length > 0 && fitting.length === declarations.length) {
    const merged = [...withoutDeclared(fragments, fitting.map(({ attempt }) => attempt.fragment)), ...fitting.map(({ attempt }) => attempt.fragment)];
    const checked = checkReferences(merged, options).length === 0 ? checkGraph(merged, cascadeHopLimit) : undefined;
    if (checked && checked.errors.length === 0) {
      for (const { d, attempt } of fitting) parsed.set(d.file, { fragment: attempt.fragment, problems: [], locate: attempt.locate, near: attempt.locate });
      all = merged;
      warnings = checked.warnings.map(placeNear);
      declarations = [];
    }
  }
  for (const d of declarations) {
    const attempt = withDeclaration(indexProjects(all), d, options);
    if ("problems" in attempt) {
      refused.push(...attempt.problems);
      continue;
    }
    const located = attempt.locate;
    parsed.set(d.file, { fragment: attempt.fragment, problems: [], locate: located, near: located });
    const merged = [...withoutDeclared(all, [attempt.fragment]), attempt.fragment];
    const found = [...checkReferences(merged, options), ...checkGraph(merged, cascadeHopLimit).errors];
    if (found.length > 0) {
      refused.push(...found.map((p) => (p.file === d.file ? place(p) : { file: d.file, line: 1, column: 1, message: describe(p.path, `${p.message} (in ${p.file}, with this declaration)`) })));
      parsed.delete(d.file);
      continue;
    }
    all = merged;
    warnings = checkGraph(all, cascadeHopLimit).warnings.map(placeNear);
  }
  // An edge a declaration repeats from the reviewed map stays a reviewed edge (its upstream's consent holds).
  let reviewed: PairSet | undefined;
  const isReviewed = (e: Edge) => (reviewed ??= pairsOf(fragments.flatMap((f) => f.edges))).has(e.upstream, e.downstream);
  return {
    map: DependencyMap.build({
      foundations: all.flatMap((f) => f.foundations.map((x) => x.value)),
      // a declared project has replaced its map entry: its own trigger and metadata win
      projects: all.flatMap((f) => f.projects.map((x) => x.value)),
      edges: all.flatMap((f) => f.edges.map((x) => (x.value.declared && isReviewed(x.value) ? { ...x.value, declared: false } : x.value))),
      cascadeHopLimit,
      subscribers: all.flatMap((f) => (f.subscribers ?? []).map((x) => x.value)),
    }),
    warnings,
    files: texts.map((t) => t.file),
    texts,
    refusedDeclarations: refused,
  };
}

/** Defaults of OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER and OPENCI_MAX_DECLARED_EDGES_PER_PROJECT. */
export const DEFAULT_MAX_DECLARED_PROJECTS = 50;
export const DEFAULT_MAX_DECLARED_EDGES = 50;

/** Who answers for a repository: its GitHub account, or its GitLab host and top-level group. */
const ownerOf = (l: ProjectLocation) => ownerKey(l);

/**
 * Declarations of repositories the reviewed map does not list, at most `max` per owner (in the
 * order given: a newer one is the one refused); each one over is refused with what to do.
 */
function withinQuota(declarations: DeclarationText[], index: ProjectIndex, options: MapOptions): { kept: DeclarationText[]; refused: LocatedProblem[] } {
  const max = options.maxDeclaredProjectsPerOwner ?? DEFAULT_MAX_DECLARED_PROJECTS;
  const counts = new Map<string, number>();
  const kept: DeclarationText[] = [];
  const refused: LocatedProblem[] = [];
  for (const d of declarations) {
    if (index.byLocation.has(locationKey(d.location))) {
      kept.push(d);
      continue;
    }
    const owner = ownerOf(d.location);
    const count = (counts.get(owner) ?? 0) + 1;
    counts.set(owner, count);
    if (count <= max) kept.push(d);
    else {
      refused.push({
        file: d.file, line: 1, column: 1,
        message: `refused: ${owner.replace(/^\w+:/, "")} already has ${max} declared repositories the reviewed map does not list (OPENCI_MAX_DECLARED_PROJECTS_PER_OWNER); ask the relay's operators to list this one in the map, or remove another declaration`,
      });
    }
  }
  return { kept, refused };
}

interface ProjectIndex {
  byLocation: Map<string, Placed<Project>>;
  byId: Map<string, Placed<Project>>;
}

function indexProjects(fragments: Fragment[]): ProjectIndex {
  const index: ProjectIndex = { byLocation: new Map(), byId: new Map() };
  for (const p of fragments.flatMap((f) => f.projects)) {
    if (!index.byLocation.has(locationKey(p.value.location))) index.byLocation.set(locationKey(p.value.location), p);
    if (!index.byId.has(p.value.id)) index.byId.set(p.value.id, p);
  }
  return index;
}

/** The declaration as a fragment, checked on its own; or its problems. */
function withDeclaration(index: ProjectIndex, d: DeclarationText, options: MapOptions):
  { fragment: Fragment; locate: Parsed["locate"] } | { problems: LocatedProblem[] } {
  const one = parseOne(d.text, d.file, options, Declaration);
  if (one.problems.length > 0 || !one.data) return { problems: one.problems };
  const key = locationKey(d.location);
  const existing = index.byLocation.get(key)?.value;
  const declaration = one.data as Declaration;
  const fragment = fromDeclaration(declaration, d.file, d.location, existing, options);
  if (existing && declaration.id !== undefined && declaration.id !== existing.id) {
    return { problems: [{ file: d.file, ...one.locate(["id"]), message: `id: this repository is '${existing.id}' in the map; leave 'id' out or use that` }] };
  }
  if (!existing && declaration.id !== undefined) {
    const id = fragment.projects[0]!.value.id;
    return { problems: [{ file: d.file, ...one.locate(["id"]), message: `id: refused: only the reviewed map gives ids, and it does not list this repository, so its id is '${id}'; leave 'id' out (or ask the map's maintainers to list it)` }] };
  }
  const maxEdges = options.maxDeclaredEdgesPerProject ?? DEFAULT_MAX_DECLARED_EDGES;
  if (declaration.depends_on.length > maxEdges) {
    return { problems: [{ file: d.file, ...one.locate(["depends_on"]), message: `depends_on: ${declaration.depends_on.length} upstreams, more than the ${maxEdges} a declaration may name (OPENCI_MAX_DECLARED_EDGES_PER_PROJECT): keep the ones you test against` }] };
  }
  // A declaration speaks for its own repository only: an id another place holds is refused.
  const id = fragment.projects[0]!.value.id;
  const sameId = index.byId.get(id);
  const holder = sameId && locationKey(sameId.value.location) !== key ? sameId : undefined;
  if (holder) {
    return { problems: [{ file: d.file, ...one.locate(["id"]), message: `id: '${id}' is another repository's id in the map (${holder.file}); give this repository its own 'id'` }] };
  }
  return { fragment, locate: one.locate };
}

/**
 * The fragments without the declared repositories' map entries (a declaration replaces its entry;
 * matched by location) and without the map's edges into them that they declare again (their own
 * win). One pass over the map, however many declarations.
 */
function withoutDeclared(fragments: Fragment[], declared: Fragment[]): Fragment[] {
  const places = new Set(declared.map((d) => locationKey(d.projects[0]!.value.location)));
  const pairs = pairsOf(declared.flatMap((d) => d.edges));
  return fragments.map((f) => ({
    ...f,
    projects: f.projects.filter((p) => !places.has(locationKey(p.value.location))),
    edges: f.edges.filter((e) => !pairs.has(e.value.upstream, e.value.downstream)),
  }));
}

function pairsOf(edges: Placed<Edge>[]): PairSet {
  const pairs = new PairSet();
  for (const e of edges) pairs.add(e.value.upstream, e.value.downstream);
  return pairs;
}

const within = (prefix: readonly PropertyKey[], path: readonly PropertyKey[]) => prefix.length <= path.length && prefix.every((k, i) => path[i] === k);

/**
 * The fragments with only the edges the graph can be checked on: between two projects whose ids
 * are known and held once (an unknown, repeated or self reference is reported by checkReferences,
 * and is no cycle of its own).
 */
function soundEdges(fragments: Fragment[]): Fragment[] {
  const count = new Map<string, number>();
  for (const p of fragments.flatMap((f) => f.projects)) count.set(p.value.id, (count.get(p.value.id) ?? 0) + 1);
  const once = (id: string) => count.get(id) === 1;
  return fragments.map((f) => ({ ...f, edges: f.edges.filter((e) => e.value.upstream !== e.value.downstream && once(e.value.upstream) && once(e.value.downstream)) }));
}

function parseOne(text: string, file: string, options: MapOptions, declaration?: typeof Declaration): Parsed {
  let positions: { doc: Document; lineCounter: LineCounter } | undefined;
  const precise = () => {
    if (!positions) {
      const lineCounter = new LineCounter();
      positions = { doc: parseDocument(text, { lineCounter, uniqueKeys: true }), lineCounter };
    }
    return positions;
  };
  const locate = (path: readonly PropertyKey[]) => locateIn(precise().doc, precise().lineCounter, path);
  // Where each mapping and list starts, kept as raw offsets (cheap: the listener sees every node,
  // scalars and keys too, so it allocates nothing per node: the open nodes' marks on a flat stack,
  // each mapping's or list's mark appended to one flat list, a strong Map from the node to it).
  const starts: Starts = { index: new Map(), marks: [] };
  const near = (path: readonly PropertyKey[]) => nearIn(text, data, starts, path);
  const opened: number[] = [];
  let data: unknown;
  try {
    data = jsYaml.load(text, {
      schema: jsYaml.CORE_SCHEMA, filename: file,
      listener: (event, state) => {
        const s = state as unknown as { position: number; line: number; lineStart: number; result: unknown };
        if (event === "open") opened.push(s.position, s.line, s.lineStart);
        else if (opened.length > 0) {
          const lineStart = opened.pop()!;
          const line = opened.pop()!;
          const position = opened.pop()!;
          if (typeof s.result === "object" && s.result !== null) {
            starts.index.set(s.result, starts.marks.length);
            starts.marks.push(position, line, lineStart);
          }
        }
      },
    });
  } catch (error) {
    const { doc } = precise();
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
      return { file, line: pos.line, column: pos.col, message: `YAML: ${e.message.split("\n")[0]}` };
    });
    const mark = (error as { mark?: { line: number; column: number }; reason?: string }).mark;
    return {
      fragment: undefined, locate, near,
      problems: problems.length > 0 ? problems : [{ file, line: (mark?.line ?? 0) + 1, column: (mark?.column ?? 0) + 1, message: `YAML: ${(error as { reason?: string }).reason ?? (error as Error).message}` }],
    };
  }
  const located = (p: SchemaProblem): LocatedProblem => ({
    file, ...(p.key === undefined ? locate(p.path) : locateKey(precise().doc, precise().lineCounter, p.path, p.key)), message: describe(p.path, p.message),
  });
  if (declaration) {
    const checked = checkSchema(declaration, data);
    if (checked.problems.length > 0) return { fragment: undefined, locate, near, problems: checked.problems.map(located) };
    return { fragment: undefined, data: checked.data, locate, near, problems: [] };
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (version !== undefined && version !== 1 && version !== 2) {
    return { fragment: undefined, locate, near, problems: [{ file, ...locate(["version"]), message: "version: must be 1 or 2 (or left out for 1)" }] };
  }
  const checked = version === 2
    ? checkSchema(MapV2, data)
    : checkSchema(MapV1, data, { schema: MapV2, hint: "(format v2 keys need 'version: 2' at the top)" });
  const problems = checked.problems.map(located);
  if (checked.data === undefined) return { fragment: undefined, locate, near, problems };
  const read = version === 2 ? fromV2(checked.data as MapV2, file, options) : fromV1(checked.data as MapV1, file, options);
  const origin = <T extends { path: (string | number)[] }>(x: T): T => ({ ...x, path: checked.origin(x.path) });
  const fragment: Fragment = problems.length === 0 ? read : {
    ...read,
    foundations: read.foundations.map(origin), projects: read.projects.map(origin), edges: read.edges.map(origin),
    ...(read.subscribers ? { subscribers: read.subscribers.map(origin) } : {}),
  };
  return { fragment, locate, near, problems, broken: checked.broken, lost: checked.lost, written: checked.written };
}

function describe(path: readonly PropertyKey[], message: string): string {
  const at = path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
  return at ? `${at.replace(/^\./, "")}: ${message}` : message;
}

/** Line and column of the deepest node that exists along `path`. */
function locateIn(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): { line: number; column: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

/** Line and column of the key `key` of the mapping at `path` (of the mapping when the key is not found). */
function locateKey(doc: Document, lineCounter: LineCounter, path: readonly PropertyKey[], key: string): { line: number; column: number } {
  const node = (path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true)) as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null;
  const range = node?.items?.find((pair) => pair.key?.value === key)?.key?.range;
  if (!range) return locateIn(doc, lineCounter, path);
  const pos = lineCounter.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

/** js-yaml's offset, line (0-based) and line start when it began reading a node. */
type Mark = [position: number, line: number, lineStart: number];

/** A mark as a 1-based line and column, past the blanks and line breaks before the node. */
function lineColumn(text: string, [start, line0, lineStart0]: Mark): { line: number; column: number } {
  let position = start;
  let line = line0;
  let lineStart = lineStart0;
  for (let c = text.charCodeAt(position); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++position)) {
    if (c === 10) {
      line++;
      lineStart = position + 1;
    }
  }
  return { line: line + 1, column: position - lineStart + 1 };
}

/** Where the fast parse saw each mapping and list start: `marks` holds a Mark's three numbers from `index.get(node)` on. */
interface Starts {
  index: Map<object, number>;
  marks: number[];
}

/** The start of the deepest mapping or list along `path` that the fast parse saw. */
function nearIn(text: string, data: unknown, starts: Starts, path: readonly PropertyKey[]): { line: number; column: number } {
  let best: Mark | undefined;
  let node: unknown = data;
  for (let depth = 0; typeof node === "object" && node !== null; depth++) {
    const at = starts.index.get(node);
    if (at !== undefined) best = [starts.marks[at]!, starts.marks[at + 1]!, starts.marks[at + 2]!];
    if (depth === path.length) break;
    node = (node as Record<PropertyKey, unknown>)[path[depth]!];
  }
  return best ? lineColumn(text, best) : { line: 1, column: 1 };
}
