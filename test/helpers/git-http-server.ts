import type { SeenRequest } from "./loopback-server.js";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";

/**
 * A real git host on loopback: git's own `git http-backend`, run as a CGI program by a Node HTTP
 * server (git-http-backend(1)), serving bare repositories the test builds with real git commands.
 * Nothing about the protocol is imitated here; the server only carries bytes between the two.
 *
 * Two extras, each a thing real deployments put in front of git: `etags` makes it answer like a
 * caching proxy (an ETag on every 200, 304 to a matching If-None-Match), and paths under `/dumb/`
 * are served as static files, as a dumb-HTTP git host (a plain web server) would.
 */

/** git with no user or system config, a fixed identity, and never a prompt. */
const GIT_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_TERMINAL_PROMPT: "0",
  GIT_AUTHOR_NAME: "OpenCI Test",
  GIT_AUTHOR_EMAIL: "test@openci.invalid",
  GIT_COMMITTER_NAME: "OpenCI Test",
  GIT_COMMITTER_EMAIL: "test@openci.invalid",
};

/** Runs git in `cwd`; `input` goes to its stdin. Resolves to its stdout, trimmed. */
export function git(cwd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd, env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout.trim()));
    child.stdin?.on("error", () => undefined); // git may exit without reading its stdin; its exit status tells
    child.stdin?.end(input);
  });
}

export type { SeenRequest };

export interface BareRepo {
  name: string;
  dir: string;
  /** the address `git clone` takes */
  url: string;
  /** a new commit on main (the first one starts it); returns its id */
  commit(message?: string): Promise<string>;
  /** a lightweight tag: a ref naming the commit itself */
  tag(name: string, at: string): Promise<void>;
  /** an annotated tag: a tag object naming the commit (or another tag); returns the tag object's id */
  annotatedTag(name: string, at: string, message?: string): Promise<string>;
  /** many lightweight tags in one `git update-ref --stdin` */
  tags(names: string[], at: string): Promise<void>;
  /** many annotated tags in one `git fast-import` */
  annotatedTags(names: string[], at: string): Promise<void>;
  /** points an existing tag at another commit, as `git tag -f` does (annotated again when asked) */
  moveTag(name: string, to: string, annotated?: boolean): Promise<void>;
  deleteTag(name: string): Promise<void>;
  git(args: string[], input?: string): Promise<string>;
}

export interface GitHttpServer {
  /** http://127.0.0.1:<port> */
  base: string;
  /** GIT_PROJECT_ROOT: a temporary directory, removed by stop() */
  root: string;
  /** every request, in order, with the status it was answered */
  requests: SeenRequest[];
  /** a new bare repository `<name>.git` with main as its default branch */
  createRepo(name: string, opts?: { objectFormat?: "sha1" | "sha256" }): Promise<BareRepo>;
  /** the same repository's files as a dumb-HTTP host serves them (after `git update-server-info`) */
  dumbUrl(repo: BareRepo): Promise<string>;
  stop(): Promise<void>;
}

export async function startGitHttpServer(opts: { etags?: boolean } = {}): Promise<GitHttpServer> {
  const root = await mkdtemp(join(tmpdir(), "openci-git-http-"));
  const requests: SeenRequest[] = [];
  const children = new Set<ChildProcess>();

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://localhost");
    const seen: SeenRequest = { method: req.method ?? "GET", path: u.pathname, query: u.search.slice(1), headers: req.headers, status: 0 };
    requests.push(seen);
    const answer = (status: number, headers: Record<string, string | string[]>, body: Buffer) => {
      if (res.headersSent) return;
      seen.status = status;
      res.writeHead(status, headers).end(body);
    };
    if (u.pathname.startsWith("/dumb/")) {
      const file = normalize(decodeURIComponent(u.pathname.slice("/dumb".length)));
      readFile(join(root, file)).then(
        (body) => answer(200, { "Content-Type": "text/plain; charset=utf-8" }, body),
        () => answer(404, { "Content-Type": "text/plain" }, Buffer.from("not found\n")),
      );
      return;
    }
    const child = spawn("git", ["http-backend"], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        GATEWAY_INTERFACE: "CGI/1.1",
        SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        ...(req.headers["content-length"] ? { CONTENT_LENGTH: req.headers["content-length"] } : {}),
        ...(req.headers["git-protocol"] ? { HTTP_GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
        REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      },
    });
    children.add(child);
    const out: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.resume();
    child.stdin.on("error", () => undefined); // a GET's backend may exit before reading its (empty) stdin
    child.on("error", () => answer(500, {}, Buffer.from("cannot run git http-backend\n")));
    child.on("close", () => {
      children.delete(child);
      const cgi = parseCgi(Buffer.concat(out));
      if (opts.etags && cgi.status === 200) {
        const etag = `"${createHash("sha256").update(cgi.body).digest("hex").slice(0, 32)}"`;
        if (req.headers["if-none-match"] === etag) return answer(304, { ETag: etag }, Buffer.alloc(0));
        cgi.headers["ETag"] = etag;
      }
      answer(cgi.status, cgi.headers, cgi.body);
    });
    req.pipe(child.stdin);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    base,
    root,
    requests,
    createRepo: async (name, repoOpts = {}) => {
      const dir = join(root, `${name}.git`);
      await git(root, ["init", "--quiet", "--bare", "--initial-branch=main", `--object-format=${repoOpts.objectFormat ?? "sha1"}`, dir]);
      return bareRepo(name, dir, `${base}/${name}.git`);
    },
    dumbUrl: async (repo) => {
      await repo.git(["update-server-info"]);
      return `${base}/dumb/${repo.name}.git`;
    },
    stop: async () => {
      for (const child of children) child.kill();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A CGI response (RFC 3875 §6): header lines, a blank line, the body; `Status:` sets the code. */
function parseCgi(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  let end = raw.indexOf("\r\n\r\n");
  let sep = 4;
  const lf = raw.indexOf("\n\n");
  if (end < 0 || (lf >= 0 && lf < end)) [end, sep] = [lf, 2];
  if (end < 0) return { status: 502, headers: { "Content-Type": "text/plain" }, body: Buffer.from("git http-backend sent no CGI header\n") };
  let status = 200;
  const headers: Record<string, string> = {};
  for (const l of raw.subarray(0, end).toString("latin1").split(/\r?\n/)) {
    const colon = l.indexOf(":");
    if (colon < 0) continue;
    const name = l.slice(0, colon).trim();
    const value = l.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") status = parseInt(value, 10);
    else headers[name] = value; // git repeats some headers on errors: one of each is enough
  }
  return { status, headers, body: raw.subarray(end + sep) };
}

function bareRepo(name: string, dir: string, url: string): BareRepo {
  const run = (args: string[], input?: string) => git(dir, args, input);
  let commits = 0;
  return {
    name,
    dir,
    url,
    git: run,
    commit: async (message = `commit ${commits + 1}`) => {
      commits += 1;
      const tree = await run(["mktree"], `100644 blob ${await run(["hash-object", "-w", "--stdin"], `${message}\n`)}\tREADME\n`);
      const parent = await run(["rev-parse", "--verify", "--quiet", "refs/heads/main"]).catch(() => "");
      const sha = await run(["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", message]);
      await run(["update-ref", "refs/heads/main", sha]);
      return sha;
    },
    tag: async (tagName, at) => void (await run(["tag", tagName, at])),
    annotatedTag: async (tagName, at, message = `release ${tagName}`) => {
      await run(["tag", "--annotate", "--message", message, tagName, at]);
      return run(["rev-parse", `refs/tags/${tagName}`]);
    },
    tags: async (names, at) => void (await run(["update-ref", "--stdin"], names.map((n) => `create refs/tags/${n} ${at}\n`).join(""))),
    annotatedTags: async (names, at) => {
      const stream = names.map((n) => {
        const message = `release ${n}\n`;
        return `tag ${n}\nfrom ${at}\ntagger OpenCI Test <test@openci.invalid> 1700000000 +0000\ndata ${Buffer.byteLength(message)}\n${message}\n`;
      }).join("");
      await run(["fast-import", "--quiet"], stream);
    },
    moveTag: async (tagName, to, annotated = false) =>
      void (await run(["tag", "--force", ...(annotated ? ["--annotate", "--message", `moved ${tagName}`] : []), tagName, to])),
    deleteTag: async (tagName) => void (await run(["tag", "--delete", tagName])),
  };
}
