/**
 * A regular-expression matcher that runs in time linear in the tag whatever the pattern: the
 * pattern becomes a small program (Thompson's construction) that is run over every possible path
 * at once (Pike's VM), never backtracking. Every map and every repository's declaration may carry
 * a tag filter, and V8's engine backtracks: `(a+)+$` or `.*.*.*…X` on a long tag never ends.
 *
 * JavaScript syntax with the `u` flag; whole-tag matches only (the answer is yes or no, so lazy and
 * greedy quantifiers mean the same). Refused, with what to write instead: backreferences,
 * lookbehinds, lookaheads that can read more than a few characters, and patterns whose counted
 * repetitions expand past MAX_PROGRAM steps.
 */

/** A pattern the matcher will not take, and why (a sentence that continues "tag_regex …"). */
export class RegexRefused extends Error {
  override name = "RegexRefused";
}

/** Steps of the compiled program at most: bounds the work per character of the tag. */
export const MAX_PROGRAM = 5000;
/** The most characters a lookahead may read (picomatch's own are three). */
const MAX_LOOKAHEAD = 8;
const MAX_COUNT = 1000;

type CharTest = (c: number) => boolean;
type At = (input: readonly number[], i: number) => boolean;

type Node =
  | { t: "char"; test: CharTest }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; options: Node[] }
  | { t: "repeat"; node: Node; min: number; max: number }
  | { t: "assert"; at: At };

type Op =
  | { op: "char"; test: CharTest }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "assert"; at: At }
  | { op: "match" };

export type LinearMatcher = (text: string) => boolean;

/** Compiles `pattern` to match whole texts. Throws RegexRefused for what it will not run; the caller checks syntax first. */
export function compileLinear(pattern: string): LinearMatcher {
  const program = emitProgram(new Parser(pattern).parseAll());
  return (text) => run(program, Array.from(text, (c) => c.codePointAt(0)!), 0, false);
}

/* ----- parsing -------------------------------------------------------------------------------- */

const LINE_TERMINATOR = (c: number) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
const DIGIT: CharTest = (c) => c >= 0x30 && c <= 0x39;
const WORD: CharTest = (c) => DIGIT(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const SPACE: CharTest = (c) => /\s/u.test(String.fromCodePoint(c));
const not = (test: CharTest): CharTest => (c) => !test(c);

class Parser {
  private readonly s: string[];
  private i = 0;

  constructor(pattern: string) {
    this.s = Array.from(pattern);
  }

  parseAll(): Node {
    const node = this.alternation();
    if (this.i < this.s.length) throw new RegexRefused(`cannot be read past '${this.s.slice(0, this.i).join("")}'`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.s[this.i + offset];
  }

  private startsWith(text: string): boolean {
    return this.s.slice(this.i, this.i + text.length).join("") === text;
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === "|") {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: "alt", options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.s.length && this.peek() !== "|" && this.peek() !== ")") {
      const atom = this.atom();
      items.push(atom.t === "assert" ? atom : this.quantified(atom));
    }
    return { t: "seq", items };
  }

  private quantified(atom: Node): Node {
    let node = atom;
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      if (c === "*") [min, max] = [0, Infinity];
      else if (c === "+") [min, max] = [1, Infinity];
      else if (c === "?") [min, max] = [0, 1];
      else if (c === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i, this.i + 30).join(""));
        if (!m) return node;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        if (min > MAX_COUNT || (max !== Infinity && max > MAX_COUNT)) {
          throw new RegexRefused(`counts to more than ${MAX_COUNT} (${m[0]}): use + or * instead of such a large count`);
        }
        this.i += Array.from(m[0]).length - 1;
      } else return node;
      this.i++;
      if (this.peek() === "?") this.i++; // lazy: the same yes or no for a whole-tag match
      node = { t: "repeat", node, min, max };
    }
  }

  private atom(): Node {
    const c = this.s[this.i++]!;
    switch (c) {
      case ".":
        return { t: "char", test: not(LINE_TERMINATOR) };
      case "^":
        return { t: "assert", at: (_, i) => i === 0 };
      case "$":
        return { t: "assert", at: (input, i) => i === input.length };
      case "[":
        return { t: "char", test: this.charClass() };
      case "(":
        return this.group();
      case "\\":
        return this.escape();
      default:
        return literal(c.codePointAt(0)!);
    }
  }

  private group(): Node {
    let look: boolean | undefined;
    if (this.startsWith("?:")) this.i += 2;
    else if (this.startsWith("?=") || this.startsWith("?!")) {
      look = this.peek(1) === "=";
      this.i += 2;
    } else if (this.startsWith("?<=") || this.startsWith("?<!")) {
      throw new RegexRefused("uses a lookbehind ((?<= or (?<!), which is refused: describe the tag from its start instead, or use a glob or a semver range");
    } else if (this.startsWith("?<")) {
      const end = this.s.indexOf(">", this.i);
      this.i = end + 1;
    } else if (this.peek() === "?") {
      throw new RegexRefused("uses a group modifier such as (?i:…), which is refused: write the letters as a class, e.g. [vV]");
    }
    const inner = this.alternation();
    if (this.s[this.i++] !== ")") throw new RegexRefused("has a group that is not closed");
    if (look === undefined) return inner;
    const longest = maxLength(inner);
    if (longest > MAX_LOOKAHEAD) {
      throw new RegexRefused(`uses a lookahead that can read more than ${MAX_LOOKAHEAD} characters, which is refused: describe the whole tag instead, or use a glob or a semver range`);
    }
    const program = emitProgram(inner);
    return { t: "assert", at: (input, i) => run(program, input, i, true) === look };
  }

  /** After a backslash, outside a class. */
  private escape(): Node {
    const c = this.peek()!;
    if (/[1-9]/.test(c) || c === "k") {
      throw new RegexRefused(`uses a backreference (\\${c === "k" ? "k<name>" : c}), which no linear-time matcher can run: repeat the group's pattern instead, e.g. (rc|beta)[.](rc|beta)`);
    }
    if (c === "b" || c === "B") {
      this.i++;
      const boundary: At = (input, i) => (i > 0 && WORD(input[i - 1]!)) !== (i < input.length && WORD(input[i]!));
      return { t: "assert", at: c === "b" ? boundary : (input, i) => !boundary(input, i) };
    }
    return { t: "char", test: this.classEscape() };
  }

  /** An escape that stands for characters (inside or outside a class); the backslash is read. */
  private classEscape(): CharTest {
    const c = this.s[this.i++]!;
    switch (c) {
      case "d": return DIGIT;
      case "D": return not(DIGIT);
      case "w": return WORD;
      case "W": return not(WORD);
      case "s": return SPACE;
      case "S": return not(SPACE);
      case "p":
      case "P": {
        const end = this.s.indexOf("}", this.i);
        const property = new RegExp(`\\${c}${this.s.slice(this.i, end + 1).join("")}`, "u");
        this.i = end + 1;
        return (x) => property.test(String.fromCodePoint(x));
      }
      default:
        return literal(this.escapedCodePoint(c)).test;
    }
  }

  private escapedCodePoint(c: string): number {
    const hex = (n: number) => {
      const digits = this.s.slice(this.i, this.i + n).join("");
      this.i += n;
      return parseInt(digits, 16);
    };
    switch (c) {
      case "n": return 0x0a;
      case "r": return 0x0d;
      case "t": return 0x09;
      case "f": return 0x0c;
      case "v": return 0x0b;
      case "0": return 0;
      case "c": return this.s[this.i++]!.codePointAt(0)! % 32;
      case "x": return hex(2);
      case "u": {
        if (this.peek() !== "{") return hex(4);
        const end = this.s.indexOf("}", this.i);
        const value = parseInt(this.s.slice(this.i + 1, end).join(""), 16);
        this.i = end + 1;
        return value;
      }
      default:
        return c.codePointAt(0)!;
    }
  }

  /** After `[`, up to and with its `]`. */
  private charClass(): CharTest {
    const negated = this.peek() === "^";
    if (negated) this.i++;
    const tests: CharTest[] = [];
    while (this.i < this.s.length && this.peek() !== "]") {
      const from = this.classAtom();
      if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined && typeof from === "number") {
        this.i++;
        const to = this.classAtom();
        if (typeof to === "number") {
          tests.push((x) => x >= from && x <= to);
          continue;
        }
        tests.push(literal(from).test, literal(0x2d).test, to);
        continue;
      }
      tests.push(typeof from === "number" ? literal(from).test : from);
    }
    this.i++;
    const any: CharTest = (x) => tests.some((t) => t(x));
    return negated ? not(any) : any;
  }

  private classAtom(): number | CharTest {
    const c = this.s[this.i++]!;
    if (c !== "\\") return c.codePointAt(0)!;
    const e = this.peek()!;
    if (e === "b") {
      this.i++;
      return 0x08;
    }
    if ("dDwWsSpP".includes(e)) return this.classEscape();
    this.i++;
    return this.escapedCodePoint(e);
  }
}

function literal(code: number): { t: "char"; test: CharTest } {
  return { t: "char", test: (x) => x === code };
}

/** The most characters `node` can match (Infinity when a repetition is unbounded). */
function maxLength(node: Node): number {
  switch (node.t) {
    case "char": return 1;
    case "assert": return 0;
    case "seq": return node.items.reduce((sum, n) => sum + maxLength(n), 0);
    case "alt": return Math.max(...node.options.map(maxLength));
    case "repeat": {
      const inner = maxLength(node.node);
      return inner === 0 ? 0 : node.max * inner;
    }
  }
}

/* ----- the program and its run ---------------------------------------------------------------- */

function emitProgram(root: Node): Op[] {
  const program: Op[] = [];
  const push = (op: Op) => {
    if (program.length >= MAX_PROGRAM) {
      throw new RegexRefused(`is too large once its counted repetitions are expanded (more than ${MAX_PROGRAM} steps): use smaller counts, or + and *`);
    }
    program.push(op);
    return program.length - 1;
  };
  const emit = (node: Node): void => {
    switch (node.t) {
      case "char":
        push({ op: "char", test: node.test });
        return;
      case "assert":
        push({ op: "assert", at: node.at });
        return;
      case "seq":
        for (const item of node.items) emit(item);
        return;
      case "alt": {
        const jumps: Op[] = [];
        node.options.forEach((option, k) => {
          if (k === node.options.length - 1) {
            emit(option);
            return;
          }
          const split = { op: "split", x: 0, y: 0 } as Extract<Op, { op: "split" }>;
          split.x = push(split) + 1;
          emit(option);
          const jmp = { op: "jmp", x: 0 } as Extract<Op, { op: "jmp" }>;
          push(jmp);
          jumps.push(jmp);
          split.y = program.length;
        });
        for (const jmp of jumps) (jmp as Extract<Op, { op: "jmp" }>).x = program.length;
        return;
      }
      case "repeat": {
        for (let k = 0; k < node.min; k++) emit(node.node);
        if (node.max === Infinity) {
          const split = { op: "split", x: 0, y: 0 } as Extract<Op, { op: "split" }>;
          const loop = push(split);
          split.x = loop + 1;
          emit(node.node);
          push({ op: "jmp", x: loop });
          split.y = program.length;
          return;
        }
        const splits: Extract<Op, { op: "split" }>[] = [];
        for (let k = node.min; k < node.max; k++) {
          const split = { op: "split", x: 0, y: 0 } as Extract<Op, { op: "split" }>;
          split.x = push(split) + 1;
          splits.push(split);
          emit(node.node);
        }
        for (const split of splits) split.y = program.length;
        return;
      }
    }
  };
  emit(root);
  push({ op: "match" });
  return program;
}

/**
 * Every thread at once, one character at a time: at most one thread per program step, so the work
 * is (characters × steps) whatever the pattern. `prefix`: a match may end before the input does
 * (lookaheads).
 */
function run(program: Op[], input: readonly number[], start: number, prefix: boolean): boolean {
  const seen = new Int32Array(program.length).fill(-1);
  let current: number[] = [];
  let next: number[] = [];
  let matched = false;
  const stack: number[] = [];
  const add = (list: number[], from: number, i: number) => {
    stack.push(from);
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === i) continue;
      seen[pc] = i;
      const op = program[pc]!;
      switch (op.op) {
        case "jmp": stack.push(op.x); break;
        case "split": stack.push(op.y, op.x); break;
        case "assert": if (op.at(input, i)) stack.push(pc + 1); break;
        case "match": if (prefix || i === input.length) matched = true; break;
        case "char": list.push(pc); break;
      }
    }
  };
  add(current, 0, start);
  for (let i = start; i < input.length && current.length > 0 && !matched; i++) {
    const c = input[i]!;
    for (const pc of current) {
      if ((program[pc] as Extract<Op, { op: "char" }>).test(c)) add(next, pc + 1, i + 1);
    }
    [current, next] = [next, current];
    next.length = 0;
  }
  return matched;
}
