import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import { MapV1 } from "./schema.js";
import { checkReferences, type MapProblem } from "./check-references.js";
import { DependencyMap, type MapOptions } from "./graph.js";

export class MapError extends Error {
  override name = "MapError";
  constructor(
    readonly file: string,
    readonly problems: { line: number; column: number; message: string }[],
  ) {
    super(
      `Invalid dependency map ${file}:\n` +
        problems.map((p) => `  ${file}:${p.line}:${p.column}: ${p.message}`).join("\n"),
    );
  }
}

/** Reads and validates a map file; throws MapError naming file, line and problem. */
export function loadMapFile(file: string, options: MapOptions = {}): DependencyMap {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new MapError(file, [
      { line: 0, column: 0, message: `cannot be read (${(error as Error).message}); set OPENCI_MAP to your map file` },
    ]);
  }
  return parseMap(text, file, options);
}

export function parseMap(text: string, file = "<map>", options: MapOptions = {}): DependencyMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new MapError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
        return { line: pos.line, column: pos.col, message: `YAML: ${e.message.split("\n")[0]}` };
      }),
    );
  }

  const where = (path: readonly PropertyKey[]) => locate(doc, lineCounter, path);
  const parsed = MapV1.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new MapError(
      file,
      parsed.error.issues.map((issue) => ({ ...where(issue.path), message: describe(issue.path, issue.message) })),
    );
  }

  const problems: MapProblem[] = checkReferences(parsed.data);
  if (problems.length > 0) {
    throw new MapError(
      file,
      problems.map((p) => ({ ...where(p.path), message: describe(p.path, p.message) })),
    );
  }
  return DependencyMap.fromV1(parsed.data, options);
}

function describe(path: readonly PropertyKey[], message: string): string {
  const at = path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
  return at ? `${at.replace(/^\./, "")}: ${message}` : message;
}

/** Line and column of the deepest node that exists along `path`. */
function locate(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): { line: number; column: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}
