import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The shape docs/architecture.md describes, checked: the source has no import circles, and the
 * flow (workers, report, history, trust, map) reaches a system only through its roles and the
 * `Systems` registry, never by importing one system's implementation.
 */
const SRC = resolve("src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every relative import and re-export of each file (type-only ones too: they tie modules together as much). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    const deps = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")));
    graph.set(file, deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (!graph.has(d)) continue;
      if (state.get(d) === "open") found.add([...stack.slice(stack.indexOf(d)), d].map((x) => relative(SRC, x)).join(" → "));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return [...found];
}

describe("the source's shape", () => {
  const graph = importGraph();

  it("has no import circles", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles(graph)).toEqual([]);
  });

  it("finds a circle when there is one (the check itself works)", () => {
    const a = join(SRC, "a.ts");
    const b = join(SRC, "b.ts");
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toEqual(["a.ts → b.ts → a.ts"]);
  });

  it("lets the flow reach GitHub and GitLab only through roles and the registry", () => {
    const systems = ["forge/github.ts", "forge/gitlab.ts"].map((f) => join(SRC, f));
    const flow = ["workers", "report", "history", "trust", "map", "sinks"];
    const offending = [...graph].flatMap(([file, deps]) =>
      flow.some((d) => relative(SRC, file).startsWith(`${d}/`)) ? deps.filter((d) => systems.includes(d)).map((d) => `${relative(SRC, file)} imports ${relative(SRC, d)}`) : []);

    expect(offending).toEqual([]);
  });
});
