import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { main } from "../../src/cli/main.js";

/**
 * The commands the README and docs/*.md show in fenced ```sh blocks. Those that run offline and in
 * a moment run here, through the CLI's entry point (`main`, what `npx openci-relay` runs), from the
 * repository's root; every other kind is skipped by a named rule below, with its reason. A command
 * no rule knows fails the test: a new kind of command gets a rule, or becomes runnable.
 * Also: every relative link of those pages leads to a file of the repository.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const PAGES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];

interface Command { page: string; line: number; text: string }

/** The fenced ```sh blocks of a page (indented ones in lists too), with the line each starts on. */
export function shBlocks(text: string): { line: number; body: string }[] {
  const lines = text.split("\n");
  const blocks: { line: number; body: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    if (end < 0) throw new Error(`line ${i + 1}: a \`\`\`sh block that never closes`);
    blocks.push({ line: i + 2, body: lines.slice(i + 1, end).map((l) => l.slice(open[1]!.length)).join("\n") });
    i = end;
  }
  return blocks;
}

/** A comment starts at a `#` after a blank, outside quotes. */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** The commands of a block: continued lines joined, comments dropped, `cmd && cmd` and `cmd; cmd` split. */
export function commandsOf(page: string, block: { line: number; body: string }): Command[] {
  const out: Command[] = [];
  const lines = block.body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + block.line;
    let text = withoutComment(lines[i]!);
    while (/\\\s*$/.test(text) && i + 1 < lines.length) text = `${text.replace(/\\\s*$/, " ")}${withoutComment(lines[++i]!)}`;
    for (const part of text.split(/&&|;(?=\s)/)) if (part.trim()) out.push({ page, line, text: part.trim().replace(/\s+/g, " ") });
  }
  return out;
}

/** Shell words, with quotes removed (enough for the commands the docs show). */
export function words(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** What runs, without the `NAME=value` settings in front of it. */
const program = (text: string) => words(text).filter((w, i, all) => !all.slice(0, i + 1).every((x) => /^[A-Z_][A-Z0-9_]*=/.test(x)));

interface Skip { name: string; reason: string; matches: (c: Command) => boolean }
const starts = (...prefixes: string[]) => (c: Command) => prefixes.some((p) => program(c.text).join(" ").startsWith(p));

/** Every kind of command the docs show that this test does not run, and why. */
export const SKIPPED: Skip[] = [
  { name: "installs", reason: "installs packages: needs the registry (network) and changes node_modules or the system", matches: starts("npm ci", "npm install", "sudo apt-get", "brew ") },
  { name: "long-running servers", reason: "starts a server that runs until it is stopped (the relay, the demo); test/e2e/npm-start.test.ts and test/e2e/demo.test.ts start them", matches: starts("npm start", "npm run demo", "node dist/index.js") },
  { name: "test suites", reason: "the test suites themselves: minutes long, and this test is part of them", matches: starts("npm test", "npm run test:") },
  { name: "benchmarks", reason: "minutes of load on the machine (npm run bench)", matches: starts("npm run bench") },
  { name: "relay clients", reason: "talks to a running relay (OPENCI_URL) over HTTP; test/e2e/cli-rerun.test.ts and the history tests run them against one", matches: starts("npx openci-relay rerun", "npx openci-relay export", "npx openci-relay sinks", "npx openci-relay watch") },
  { name: "exports", reason: "reads an export that `openci-relay export` wrote from a running relay", matches: starts("npx openci-relay verify") },
  { name: "GitLab API", reason: "creates a webhook through GitLab's API (network); test/e2e/gitlab-hooks.test.ts runs it against the fake GitLab", matches: starts("npx openci-relay gitlab-hooks") },
  { name: "HTTP requests", reason: "asks a running relay (curl) or an IPFS node", matches: starts("curl ", "ipfs ") },
  { name: "broker clients", reason: "subscribes to a running broker until stopped (network); test/e2e/broker-and-chat-sinks.test.ts subscribes with the same protocols to private Mosquitto, NATS and RabbitMQ servers", matches: starts("mosquitto_sub", "nats ", "rabbitmqadmin") },
  { name: "containers and clusters", reason: "needs a Docker engine or a Kubernetes cluster, neither of which the test machine has (scripts/check-image.mjs carries out the Dockerfile without one)", matches: starts("docker ", "kubectl ", "kustomize ") },
  { name: "git remotes", reason: "tags and pushes in the reader's own upstream repository", matches: starts("git tag ", "git push ") },
  { name: "settings", reason: "a variable's value for the relay's environment: nothing runs", matches: (c) => words(c.text).length === 1 && /^[A-Z_][A-Z0-9_]*=\S+$/.test(c.text) },
];

interface Outcome { code: number; out: string; err: string }
async function cli(args: string[]): Promise<Outcome> {
  let out = "";
  let err = "";
  const code = await main(args, {}, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

/** How a runnable command runs here: `npx openci-relay …` and `npm run X` whose script runs the CLI. */
function cliArgs(c: Command): { args: string[]; into?: string } | undefined {
  let w = program(c.text);
  if (w[0] === "npm" && w[1] === "run" && w.length === 3) {
    const script = scripts[w[2]!];
    if (script === undefined) throw new Error(`${c.page}:${c.line}: \`${c.text}\`: package.json has no script '${w[2]}'`);
    w = words(script);
    if (w[0] !== "tsx" || w[1] !== "src/cli/bin.ts") return undefined;
    w = ["npx", "openci-relay", ...w.slice(2)];
  }
  if (w[0] !== "npx" || w[1] !== "openci-relay") return undefined;
  const redirect = w.indexOf(">");
  return redirect < 0 ? { args: w.slice(2) } : { args: w.slice(2, redirect), into: w[redirect + 1] };
}

const MAP_COMMANDS = new Set(["validate", "graph", "explain"]);

/** Runs one command; returns what is wrong with it, or undefined. */
async function check(c: Command): Promise<string | undefined> {
  const where = `${c.page}:${c.line}: \`${c.text}\``;
  const run = cliArgs(c);
  if (!run) return `${where}: no rule runs or skips this kind of command (add it to SKIPPED with a reason, or make it runnable)`;
  const args = [...run.args];
  if (MAP_COMMANDS.has(args[0]!)) {
    const path = args.find((a, i) => i > 0 && !a.startsWith("-"));
    if (path === undefined) return `${where}: names no map`;
    if (!existsSync(join(ROOT, path))) return `${where}: names ${path}, which does not exist`;
    args[args.indexOf(path)] = join(ROOT, path);
  }
  const r = await cli(args);
  if (r.code !== 0) return `${where}: exit ${r.code}: ${r.err.trim()}`;
  if (run.into !== undefined) {
    // The command writes a committed file: here it writes nothing, and its output must be that file.
    const target = join(ROOT, run.into);
    if (!existsSync(target)) return `${where}: writes ${run.into}, which does not exist`;
    if (readFileSync(target, "utf8") !== r.out) return `${where}: its output is not ${run.into} as committed (run it, and commit the file)`;
  }
  return undefined;
}

const commands = PAGES.flatMap((page) => shBlocks(readFileSync(join(ROOT, page), "utf8")).flatMap((b) => commandsOf(page, b)));
const skipOf = (c: Command) => SKIPPED.find((s) => s.matches(c));

describe("the commands in the README and docs/", () => {
  it("reads the fenced sh blocks: continued lines, comments, && chains", () => {
    const block = { line: 10, body: "# a comment\nA=1 npx openci-relay validate \\\n  x.yml   # why\nnpm ci && npm run demo\n" };

    expect(commandsOf("p.md", block)).toEqual([
      { page: "p.md", line: 11, text: "A=1 npx openci-relay validate x.yml" },
      { page: "p.md", line: 13, text: "npm ci" },
      { page: "p.md", line: 13, text: "npm run demo" },
    ]);
    expect(shBlocks("x\n  ```sh\n  npm test\n  ```\n```yaml\na: 1\n```\n")).toEqual([{ line: 3, body: "npm test" }]);
    expect(program('OPENCI_ADMIN_TOKEN=… npx openci-relay sinks')).toEqual(["npx", "openci-relay", "sinks"]);
  });

  it("finds the README's own commands among them (the demo, validate, explain)", () => {
    const readme = commands.filter((c) => c.page === "README.md").map((c) => c.text);

    expect(readme).toEqual(expect.arrayContaining(["npm run demo", "npx openci-relay validate openci-map.yml", "npx openci-relay explain openci-map.yml acme/lib v1.2.0"]));
    expect(commands.length).toBeGreaterThan(30);
  });

  it("runs every runnable command, and each names only paths that exist", async () => {
    const runnable = commands.filter((c) => !skipOf(c));
    const problems: string[] = [];
    for (const c of runnable) {
      const problem = await check(c);
      if (problem) problems.push(problem);
    }

    expect(problems).toEqual([]);
    expect(runnable.map((c) => c.text)).toEqual(expect.arrayContaining(["npx openci-relay validate openci-map.yml", "npx openci-relay schema > schema/openci-map.schema.json", "npm run schema"]));
  });

  it("skips the rest by a named rule, each with its reason, and every rule is used", () => {
    const used = new Set(commands.map((c) => skipOf(c)?.name).filter(Boolean));

    expect(SKIPPED.filter((s) => !used.has(s.name)).map((s) => s.name)).toEqual([]);
    expect(SKIPPED.filter((s) => s.reason.length < 20).map((s) => s.name)).toEqual([]);
  });

  it("fails a command that fails, names a missing path, or writes a file it does not match", async () => {
    const at = (text: string): Command => ({ page: "p.md", line: 1, text });

    expect(await check(at("npx openci-relay validate fixtures/maps/nope.yml"))).toContain("names fixtures/maps/nope.yml, which does not exist");
    expect(await check(at("npx openci-relay explain openci-map.yml nobody v1"))).toMatch(/exit 1: .*no project 'nobody'/);
    expect(await check(at("npx openci-relay schema > package.json"))).toContain("its output is not package.json as committed");
    expect(await check(at("make docs"))).toContain("no rule runs or skips this kind of command");
  });
});

describe("the links in the README and docs/", () => {
  it("lead to files that exist", () => {
    const broken = PAGES.flatMap((page) => {
      const text = readFileSync(join(ROOT, page), "utf8").replace(/^\s*```[\s\S]*?^\s*```/gm, "");
      return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
        .map((m) => m[1]!.split("#")[0]!)
        .filter((target) => target !== "" && !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(ROOT, page, "..", decodeURIComponent(target))))
        .map((target) => `${page}: ${target}`);
    });

    expect(broken).toEqual([]);
  });
});
