/**
 * Jenkins' `tree` query parameter (the remote API's "Controlling the amount of data you fetch",
 * core/src/main/resources/hudson/model/Api/index.jelly): a comma-separated list of property names,
 * each with its sub-properties in square brackets and, for an array, a range in braces:
 * `builds[number,actions[parameters[name,value]]]{0,10}`. Parsed and applied to the fake's own
 * JSON models, as Jenkins applies it to its exported beans.
 */
export interface TreeNode {
  name: string;
  children: TreeNode[] | undefined;
  range: { from: number; to: number | undefined } | undefined;
}

/** Parses a tree; throws with the position of anything else. */
export function parseTree(text: string): TreeNode[] {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`tree=${text}: ${what} at ${at}`);
  };
  const list = (): TreeNode[] => {
    const nodes: TreeNode[] = [];
    for (;;) {
      const name = /^[A-Za-z_$][\w$]*/.exec(text.slice(at))?.[0] ?? fail("a property name expected");
      at += name.length;
      let children: TreeNode[] | undefined;
      if (text[at] === "[") {
        at++;
        children = list();
        if (text[at] !== "]") fail("']' expected");
        at++;
      }
      let range: TreeNode["range"];
      if (text[at] === "{") {
        const m = /^\{(\d*)(,(\d*))?\}/.exec(text.slice(at)) ?? fail("a range {M,N}, {M,}, {,N} or {N} expected");
        at += m[0].length;
        const from = m[1] === "" ? 0 : Number(m[1]);
        range = m[2] === undefined ? { from, to: from + 1 } : { from, to: m[3] === "" ? undefined : Number(m[3]) };
      }
      nodes.push({ name, children, range });
      if (text[at] !== ",") return nodes;
      at++;
    }
  };
  const nodes = list();
  if (at !== text.length) fail("unexpected character");
  return nodes;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The model cut to the tree: an object keeps its `_class` and the properties named (a named
 * property it does not have is left out); an object named without sub-properties keeps only its
 * `_class`; a range cuts an array before its elements are cut.
 */
export function applyTree(model: Json, tree: TreeNode[]): Json {
  if (Array.isArray(model)) return model.map((m) => applyTree(m, tree));
  if (model === null || typeof model !== "object") return model;
  const out: { [key: string]: Json } = {};
  if ("_class" in model) out._class = model._class!;
  for (const node of tree) {
    if (!(node.name in model)) continue;
    let value = model[node.name]!;
    if (Array.isArray(value) && node.range) value = value.slice(node.range.from, node.range.to);
    out[node.name] = node.children ? applyTree(value, node.children) : shallow(value);
  }
  return out;
}

function shallow(value: Json): Json {
  if (Array.isArray(value)) return value.map(shallow);
  if (value === null || typeof value !== "object") return value;
  return "_class" in value ? { _class: value._class! } : {};
}
