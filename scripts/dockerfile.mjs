// A reader for the parts of Dockerfile syntax this project's Dockerfile uses: line continuations,
// comments, global ARGs, stages (FROM … AS name), instruction flags (--from=, --mount=), exec-form
// JSON arrays and ENV pairs. Plain JavaScript so that scripts/check-image.mjs runs on Node alone.

/** Splits a Dockerfile into stages of instructions; `args` are the ARGs declared before the first FROM. */
export function parseDockerfile(text) {
  const instructions = [];
  let current;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines end nothing: Docker drops them, even inside a continued instruction.
    if (trimmed.startsWith("#") || (trimmed === "" && current === undefined)) return;
    const continued = /\\\s*$/.test(raw);
    const body = continued ? raw.replace(/\\\s*$/, "").trim() : trimmed;
    if (current === undefined) current = { line: index + 1, text: body };
    else current.text += ` ${body}`;
    if (!continued) {
      instructions.push(current);
      current = undefined;
    }
  });
  if (current !== undefined) instructions.push(current);

  const args = {};
  const stages = [];
  for (const { line, text: source } of instructions) {
    const match = /^(\S+)\s*(.*)$/s.exec(source);
    if (!match) continue;
    const keyword = match[1].toUpperCase();
    const { flags, rest } = splitFlags(match[2].trim());
    const instruction = { keyword, line, flags, args: rest };
    if (keyword === "FROM") {
      const [image = "", as, name] = rest.split(/\s+/);
      stages.push({ name: as?.toUpperCase() === "AS" ? name : undefined, base: substitute(image, args), line, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword === "ARG") {
        const [name, value] = rest.split("=", 2);
        args[name.trim()] = value?.trim();
      }
    } else {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** `["node", "dist/index.js"]` → its words; undefined for the shell form. */
export function execForm(args) {
  const text = args.trim();
  if (!text.startsWith("[")) return undefined;
  const words = JSON.parse(text);
  if (!Array.isArray(words) || !words.every((w) => typeof w === "string")) throw new Error(`not an exec-form array: ${text}`);
  return words;
}

/** `ENV A=1 B="two words"` (or the old `ENV A 1`) → { A: "1", B: "two words" }. */
export function parseEnvArgs(args) {
  const text = args.trim();
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) {
    const [name, ...value] = text.split(/\s+/);
    return { [name]: value.join(" ") };
  }
  const env = {};
  const pair = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const [, name, value] of text.matchAll(pair)) {
    env[name] = value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value.startsWith("'") ? value.slice(1, -1) : value;
  }
  return env;
}

/** The stage an instruction's `--from=` names, by name or index. */
export function stageNamed(dockerfile, ref) {
  return dockerfile.stages.find((s) => s.name === ref) ?? (/^\d+$/.test(ref) ? dockerfile.stages[Number(ref)] : undefined);
}

/**
 * A .dockerignore's verdict on a build-context path, as Docker reads the file: `*` within a path
 * segment, `**` across segments, the last matching line wins, `!` takes a path back in.
 */
export function dockerignore(text) {
  const rules = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((line) => {
    const negated = line.startsWith("!");
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, "");
    const glob = pattern.replace(/\*\*\/|\*\*|\*|\?|[.+^${}()|[\]\\]/g, (t) =>
      t === "**/" ? "(?:.*/)?" : t === "**" ? ".*" : t === "*" ? "[^/]*" : t === "?" ? "[^/]" : `\\${t}`);
    return { negated, regex: new RegExp(`^${glob}(/.*)?$`) };
  });
  return (path) => {
    const clean = path.replace(/^\.\/+|\/+$/g, "");
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(clean)) ignored = !rule.negated;
    return ignored;
  };
}

function splitFlags(text) {
  const flags = {};
  let rest = text;
  for (let m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags[m[1]] = m[2] ?? "true";
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

function substitute(text, args) {
  return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (all, name) => args[name] ?? all);
}
