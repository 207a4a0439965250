import { createHash, createHmac, createPublicKey, randomBytes, verify, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FakeGraphql } from "./graphql.js";
import { OpenApiValidator } from "./openapi.js";
import * as shape from "./shapes.js";

/**
 * A fake GitHub REST API on loopback under /api/v3. It records every request, checks each one
 * against GitHub's OpenAPI description, authenticates like GitHub (app JWT, installation tokens
 * scoped to the installation's repositories) and keeps just enough state to answer the relay.
 */
export interface FakeRepo {
  installationId: number;
  /** a private repository (default public), as GET /repos/{owner}/{repo} says */
  private?: boolean;
  /** false: the repository exists but the app is not installed on it (only its public metadata answers) */
  installed?: boolean;
  /** tag name → what refs/tags/<name> points at */
  tags?: Record<string, { type: "commit" | "tag"; sha: string }>;
  /** annotated tag object sha → the object it points at */
  tagObjects?: Record<string, { type: "commit" | "tag"; sha: string }>;
  /** commit sha → its commit date (ISO 8601), by which GraphQL's TAG_COMMIT_DATE orders tags */
  commitDates?: Record<string, string>;
  /** workflow file → the inputs it declares (undefined: accepts any) */
  workflows?: Record<string, { inputs?: string[] }>;
  branches?: string[];
  /** commit sha → the pull requests associated with it (open ones have it as their head) */
  pulls?: Record<string, { number: number; merged: boolean; fork?: boolean }[]>;
  /** branch → its head commit and files (path → text), for the metadata repository */
  contents?: Record<string, { sha: string; files: Record<string, string> }>;
  /** tag → its release (draft or published) and assets, for `GET /repos/{owner}/{repo}/releases/tags/{tag}` */
  releases?: Record<string, { draft?: boolean; assets: shape.ReleaseAssetSpec[] }>;
  /** commit sha → the check suites on it */
  suites?: Record<string, { appId: number; status: string; conclusion: string | null; runs?: number }[]>;
}

export interface Comment {
  id: number;
  repo: string;
  /** "pr-<number>" or "commit-<sha>" */
  on: string;
  body: string;
  /** who wrote it: the app's bot for comments the relay made, a user's login for planted ones */
  author: { login: string; type: "Bot" | "User"; appId?: number };
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId: string | undefined;
  params: Record<string, string>;
  query: Record<string, string>;
  body: any;
  installationId: number | undefined;
  at: number;
}

interface Fault {
  operationId: string;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  times: number;
}

export interface CheckRun {
  id: number;
  repo: string;
  head_sha: string;
  name: string;
  status: string;
  conclusion: string | null;
  external_id: string;
  details_url: string | null;
  output: { title?: string; summary?: string };
  app: { id: number };
}

export class FakeGithub {
  readonly requests: RecordedRequest[] = [];
  /** Requests the spec rejects, or that the fake has no answer for: a test fails if any remain. */
  readonly problems: string[] = [];
  /** workflow runs created by dispatches with return_run_details, in order */
  readonly dispatchedRuns: { repo: string; runId: number; relayRunId?: string; workflow?: string; at?: number }[] = [];
  readonly checkRuns: CheckRun[] = [];
  readonly comments: Comment[] = [];
  /** check suite id → its check runs, for CI that reports through checks */
  readonly suiteRuns: Record<number, { name: string; external_id: string; title: string; started_at?: string }[]> = {};
  /** workflow run id → its artifacts, for the artifacts listing */
  readonly runArtifacts: Record<number, { name: string; size: number }[]> = {};
  /** workflow run id → its jobs, for the jobs listing */
  readonly runJobs: Record<number, { name: string; conclusion: string | null }[]> = {};
  /** The app's webhook deliveries as GitHub logs them (what the relay answered each), newest last. */
  readonly hookDeliveries: { id: number; guid: string; event: string; payload: unknown; statusCode: number; at: number; redelivery: boolean }[] = [];
  /** Where redeliveries go: the relay's webhook URL and secret. */
  hookTarget: { url: string; secret: string } | undefined;
  /** Set false to act like GitHub Enterprise versions that reject `return_run_details`. */
  supportsRunDetails = true;
  /** The app's slug, as GET /app answers: its bot user is `<slug>[bot]`. */
  readonly appSlug = "openci-relay-test";
  /** `POST /api/graphql` (graphql.ts): its queries, and the points each installation spent. */
  readonly graphql: FakeGraphql;
  /** Conditional requests answered 304 Not Modified: GitHub does not count them against the rate limit. */
  readonly notModified: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly tokens = new Map<string, number>();
  private readonly faults: Fault[] = [];
  private readonly holds: { operationId: string; arrived: boolean; dropped: boolean }[] = [];
  private readonly acted: { operationId: string; fn: () => void }[] = [];
  private readonly slow: { operationId: string; ms: number }[] = [];
  private readonly lost: { operationId: string; times: number }[] = [];
  private readonly publicKey: KeyObject;
  private nextId = 1000;
  /**
   * The manifest flow (SOURCE.md, "Registering an app from a manifest"): manifests posted to the
   * "new app" page, and the one-time codes it handed out (a conversion spends one).
   */
  readonly manifests: { manifest: Record<string, unknown>; state: string | null; org: string | undefined; code: string }[] = [];
  /** The webhook secret the last conversion gave the app, to sign deliveries with. */
  createdWebhookSecret: string | undefined;
  private readonly appKeyPem: string;

  private constructor(
    private readonly validator: OpenApiValidator,
    private readonly appId: number,
    privateKeyPem: string,
    readonly repos: Record<string, FakeRepo>,
  ) {
    this.publicKey = createPublicKey(privateKeyPem);
    this.appKeyPem = privateKeyPem;
    this.graphql = new FakeGraphql(repos, this.problems);
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(o: { appId: number; privateKey: string; repos: Record<string, FakeRepo>; validator?: OpenApiValidator }): Promise<FakeGithub> {
    const fake = new FakeGithub(o.validator ?? sharedValidator(), o.appId, o.privateKey, o.repos);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    return fake;
  }

  /** host:port, as GHE_HOST expects. */
  get host(): string {
    const { port } = this.server.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  /** The next `times` calls of `operationId` answer with this status instead. */
  fail(operationId: string, status: number, options: { body?: unknown; headers?: Record<string, string>; times?: number } = {}): void {
    this.faults.push({ operationId, status, body: options.body, headers: options.headers, times: options.times ?? 1 });
  }

  /** Records a delivery the way GitHub's log does: its GUID, event, payload and the answer it got. */
  logDelivery(guid: string, event: string, payload: unknown, statusCode: number, redelivery = false): void {
    this.hookDeliveries.push({ id: this.nextId++, guid, event, payload, statusCode, at: Date.now(), redelivery });
  }

  /** Sends a delivery to `hookTarget` as GitHub does (signed), and logs the answer. */
  async deliver(event: string, payload: unknown, guid: string, redelivery = false): Promise<number> {
    const body = JSON.stringify(payload);
    const res = await fetch(this.hookTarget!.url, {
      method: "POST", body,
      headers: {
        "content-type": "application/json", "x-github-event": event, "x-github-delivery": guid, "user-agent": "GitHub-Hookshot/fake",
        "x-hub-signature-256": `sha256=${createHmac("sha256", this.hookTarget!.secret).update(body).digest("hex")}`,
      },
    }).catch(() => undefined);
    await res?.body?.cancel();
    this.logDelivery(guid, event, payload, res?.status ?? 0, redelivery);
    return res?.status ?? 0;
  }

  /**
   * The next request of `operationId` is held unanswered and unprocessed, as if GitHub had not got
   * to it: when its client goes away (a killed worker), GitHub never acts on it. `held` tells when it arrived.
   */
  hold(operationId: string): { held: () => boolean; dropped: () => boolean } {
    const h = { operationId, arrived: false, dropped: false };
    this.holds.push(h);
    return { held: () => h.arrived, dropped: () => h.dropped };
  }

  /**
   * Runs `fn` once GitHub has acted on the next request of `operationId`, before its answer is
   * sent: where a test kills the client that made it, GitHub did the work and the client never heard.
   */
  onceActed(operationId: string, fn: () => void): void {
    this.acted.push({ operationId, fn });
  }

  /**
   * The next `times` requests of `operationId` are acted on, then their connection is cut before
   * any answer: GitHub did the work (a check run, a comment exists) and the relay never heard.
   */
  loseResponse(operationId: string, times = 1): void {
    this.lost.push({ operationId, times });
  }

  /** A comment the relay's own bot user wrote earlier (`on`: "pr-<number>" or "commit-<sha>"), whose id the relay no longer knows. */
  plantOwnComment(repo: string, on: string, body: string): Comment {
    const comment: Comment = { id: this.nextId++, repo, on, body, author: { login: `${this.appSlug}[bot]`, type: "Bot", appId: this.appId } };
    this.comments.push(comment);
    return comment;
  }

  /** The next request of `operationId` is acted on and answered only after `ms`, as a slow GitHub would. */
  delayNext(operationId: string, ms: number): void {
    this.slow.push({ operationId, ms });
  }

  calls(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const raw = await readBody(req);
    // GitHub's web page of the manifest flow (a form post, not the API)
    const newApp = /^\/(?:organizations\/([^/]+)\/)?settings\/apps\/new$/.exec(url.pathname);
    if (newApp && req.method === "POST") return this.newAppPage(res, raw, url.searchParams.get("state"), newApp[1]);
    let body: unknown;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      this.problems.push(`${req.method} ${url.pathname}: body is not JSON`);
      return reply(res, 400, { message: "Problems parsing JSON" });
    }
    if (url.pathname === "/api/graphql" && req.method === "POST") return this.answerGraphql(req, res, body);
    if (!url.pathname.startsWith("/api/v3/")) {
      this.problems.push(`${req.method} ${url.pathname}: outside /api/v3`);
      return reply(res, 404, { message: "Not Found" });
    }
    const path = url.pathname.slice("/api/v3".length);
    const method = req.method ?? "GET";
    const { match, problems } = this.validator.validate(method, path, url.searchParams, body);
    problems.forEach((p) => this.problems.push(`${method} ${path}: ${p}`));
    const installationId = this.tokens.get((req.headers.authorization ?? "").replace(/^(token|bearer) /i, ""));
    const recorded: RecordedRequest = {
      method, path, operationId: match?.operationId, params: match?.params ?? {},
      query: Object.fromEntries(url.searchParams), body, installationId, at: Date.now(),
    };
    this.requests.push(recorded);
    if (!match || problems.length > 0) return reply(res, 422, { message: "Validation Failed", errors: problems });

    const hold = this.holds.find((x) => x.operationId === match.operationId && !x.arrived);
    if (hold) {
      hold.arrived = true;
      await new Promise<void>((resolve) => res.once("close", () => resolve()));
      hold.dropped = true;
      return;
    }
    const slowAt = this.slow.findIndex((x) => x.operationId === match.operationId);
    if (slowAt >= 0) await new Promise((r) => setTimeout(r, this.slow.splice(slowAt, 1)[0]!.ms));
    const fault = this.faults.find((f) => f.operationId === match.operationId && f.times > 0);
    if (fault) {
      fault.times--;
      return reply(res, fault.status, fault.body ?? { message: `injected ${fault.status}` }, fault.headers);
    }
    const route = this.routes[match.operationId];
    if (!route) {
      this.problems.push(`${method} ${path}: the fake has no answer for ${match.operationId}`);
      return reply(res, 501, { message: "not faked" });
    }
    const ctx = { req, params: match.params, query: url.searchParams, body: body as any };
    const auth = this.authenticate(req, match.operationId, match.params);
    if (auth) return reply(res, auth.status, this.checkedAnswer(match.operationId, auth.status, shape.error(auth.message)));
    const [status, payload, headers] = route(ctx) as [number, unknown, Record<string, string>?];
    this.checkedAnswer(match.operationId, status, payload);
    const actedAt = this.acted.findIndex((a) => a.operationId === match.operationId);
    if (actedAt >= 0) this.acted.splice(actedAt, 1)[0]!.fn();
    const lost = this.lost.find((l) => l.operationId === match.operationId && l.times > 0);
    if (lost && status < 300) {
      lost.times--;
      res.socket?.destroy();
      return;
    }
    const etag = status === 200 && CONDITIONAL.has(match.operationId) ? etagOf(payload) : undefined;
    if (etag !== undefined && matchesEtag(req.headers["if-none-match"], etag)) {
      this.notModified.push(recorded);
      res.writeHead(304, { ...headers, etag }).end();
      return;
    }
    reply(res, status, payload, etag !== undefined ? { ...headers, etag } : headers);
  }

  /** GraphQL: authenticated like the REST routes (an installation token), answered by graphql.ts; `fail("graphql", …)` injects faults. */
  private async answerGraphql(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const installationId = this.tokens.get((req.headers.authorization ?? "").replace(/^(token|bearer) /i, ""));
    this.requests.push({ method: "POST", path: "/graphql", operationId: "graphql", params: {}, query: {}, body, installationId, at: Date.now() });
    const fault = this.faults.find((f) => f.operationId === "graphql" && f.times > 0);
    if (fault) {
      fault.times--;
      return reply(res, fault.status, fault.body ?? { message: `injected ${fault.status}` }, fault.headers);
    }
    if (installationId === undefined) return reply(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/graphql" });
    const [status, payload, headers] = await this.graphql.answer(body, installationId);
    reply(res, status, payload, headers);
  }

  /** The fake's own answers are checked against the description too: a mistake of the fake is a problem like any other. */
  private checkedAnswer(operationId: string, status: number, payload: unknown): unknown {
    try {
      this.validator.validateResponse(operationId, status, payload).forEach((p) => this.problems.push(`the fake's ${p}`));
    } catch (error) {
      this.problems.push(`the fake's answer ${status} to ${operationId} could not be checked: ${(error as Error).message}`);
    }
    return payload;
  }

  private get base(): shape.Base {
    return shape.baseOf(this.host);
  }

  /** The relay's app, as GitHub embeds it in its check runs and comments. */
  private get app() {
    return shape.integration(this.base, { id: this.appId, slug: this.appSlug, name: "OpenCI Relay (test)" });
  }

  private workflowRuns(params: Record<string, string>, query: URLSearchParams, workflow: string | undefined): [number, unknown] {
    const repo = `${params.owner}/${params.repo}`;
    const event = query.get("event");
    const perPage = Number(query.get("per_page") ?? 30);
    const runs = this.dispatchedRuns
      .filter((r) => r.repo === repo && (workflow === undefined || r.workflow === workflow) && (event === null || event === "workflow_dispatch"))
      .reverse()
      .slice(0, perPage)
      .map((r) => shape.workflowRun(this.base, repo, {
        id: r.runId, name: r.workflow ?? "CI", workflow: r.workflow ?? "ci.yml", display_title: `openci ${r.relayRunId ?? ""}`.trim(), event: "workflow_dispatch",
        status: "queued", conclusion: null, created_at: new Date(r.at ?? 0).toISOString(),
      }));
    return [200, { total_count: runs.length, workflow_runs: runs }];
  }

  /** GitHub's rules: app routes need the app's JWT, repository routes a token of an installation that covers the repo. */
  private authenticate(req: IncomingMessage, operationId: string, params: Record<string, string>): { status: number; message: string } | undefined {
    const header = req.headers.authorization ?? "";
    // The manifest conversion's code is its own credential (no app exists yet to sign a JWT).
    if (operationId === "apps/create-from-manifest") return undefined;
    if (APP_JWT_ROUTES.has(operationId)) {
      return this.verifyJwt(header.replace(/^bearer /i, "")) ? undefined : { status: 401, message: "A JSON web token could not be decoded" };
    }
    // A public repository's metadata answers anyone (60 requests an hour without a token on GitHub).
    const known = this.repos[`${params.owner}/${params.repo}`];
    if (header === "" && operationId === "repos/get" && known !== undefined && known.private !== true) return undefined;
    const installationId = this.tokens.get(header.replace(/^token /i, ""));
    if (installationId === undefined) return { status: 401, message: "Bad credentials" };
    const repo = this.repos[`${params.owner}/${params.repo}`];
    // GitHub lets any installation token read a public repository; the fake allows it where the app is not installed at all.
    if (repo && repo.installed === false && repo.private !== true && req.method === "GET") return undefined;
    if (!repo || repo.installed === false || repo.installationId !== installationId) return { status: 404, message: "Not Found" };
    return undefined;
  }

  private verifyJwt(jwt: string): boolean {
    const [header, payload, signature] = jwt.split(".");
    if (!header || !payload || !signature) return false;
    const ok = verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, "base64url"));
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { iss?: string | number; exp?: number };
    return ok && String(claims.iss) === String(this.appId) && (claims.exp ?? 0) > Date.now() / 1000;
  }

  private readonly routes: Record<string, (ctx: { params: Record<string, string>; query: URLSearchParams; body: any }) => [number, unknown] | [number, unknown, Record<string, string> | undefined]> = {
    "apps/get-repo-installation": ({ params }) => {
      const repo = this.repos[`${params.owner}/${params.repo}`];
      if (!repo || repo.installed === false) return [404, shape.error("Not Found")];
      return [200, shape.installation(this.base, { id: repo.installationId, appId: this.appId, appSlug: this.appSlug, account: params.owner! })];
    },
    // The app's installations: those of the repositories it is installed on (`installed: false` names no installation).
    "apps/list-installations": () => {
      const ids = [...new Set(Object.values(this.repos).filter((r) => r.installed !== false).map((r) => r.installationId))].sort((a, b) => a - b);
      return [200, ids.map((id) => {
        const account = Object.entries(this.repos).find(([, r]) => r.installationId === id && r.installed !== false)![0].split("/")[0]!;
        const listed = shape.installation(this.base, { id, appId: this.appId, appSlug: this.appSlug, account }) as { account: Record<string, unknown> };
        // This list's schema joins the account's two shapes with allOf (SOURCE.md): it carries the enterprise's fields too.
        return { ...listed, account: { ...listed.account, name: account, slug: account, created_at: null, updated_at: null } };
      })];
    },
    "apps/create-installation-access-token": ({ params }) => {
      const id = Number(params.installation_id);
      if (!Object.values(this.repos).some((r) => r.installationId === id && r.installed !== false)) return [404, shape.error("Not Found")];
      const token = `ghs_${id}_${randomBytes(8).toString("hex")}`;
      this.tokens.set(token, id);
      return [201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {}, repository_selection: "all" }];
    },
    "repos/get": ({ params }) => {
      const repo = this.repo(params);
      const full = `${params.owner}/${params.repo}`;
      return [200, shape.fullRepository(this.base, full, { id: repo.installationId * 1000 + full.length, private: repo.private === true })];
    },
    "repos/get-content": ({ params, query }) => {
      const contents = this.repo(params).contents ?? {};
      const head = contents[query.get("ref") ?? ""] ?? Object.values(contents)[0];
      const text = head?.files[params.path!];
      if (text === undefined) return [404, { message: "Not Found" }];
      return [200, {
        type: "file", encoding: "base64", size: text.length, name: params.path!.split("/").at(-1), path: params.path, content: Buffer.from(text).toString("base64"),
        sha: blobSha(head!.sha, params.path!), url: "https://example.invalid", git_url: null, html_url: null, download_url: null, _links: { self: "https://example.invalid", git: null, html: null },
      }];
    },
    "repos/get-commit": ({ params }) => {
      const contents = this.repo(params).contents ?? {};
      const head = contents[params.ref!] ?? Object.values(contents).find((c) => c.sha === params.ref);
      if (!head) return [422, shape.error(`No commit found for SHA: ${params.ref}`)];
      return [200, shape.commit(this.base, `${params.owner}/${params.repo}`, { sha: head.sha, message: "update maps", tree: `tree-${head.sha}` })];
    },
    "git/get-tree": ({ params }) => {
      const head = Object.values(this.repo(params).contents ?? {}).find((c) => `tree-${c.sha}` === params.tree_sha || c.sha === params.tree_sha);
      if (!head) return [404, { message: "Not Found" }];
      const tree = Object.entries(head.files).map(([path, text]) => ({ path, mode: "100644", type: "blob", sha: blobSha(head.sha, path), size: text.length }));
      return [200, { sha: params.tree_sha, url: "https://example.invalid", tree, truncated: false }];
    },
    "git/get-blob": ({ params }) => {
      for (const head of Object.values(this.repo(params).contents ?? {})) {
        for (const [path, text] of Object.entries(head.files)) {
          if (blobSha(head.sha, path) === params.file_sha) {
            return [200, { sha: params.file_sha, node_id: "B_x", size: text.length, url: "https://example.invalid", content: Buffer.from(text).toString("base64"), encoding: "base64" }];
          }
        }
      }
      return [404, { message: "Not Found" }];
    },
    "git/get-ref": ({ params }) => {
      const name = params.ref!.replace(/^tags\//, "");
      const object = this.repo(params).tags?.[name];
      if (!params.ref!.startsWith("tags/") || !object) return [404, { message: "Not Found" }];
      return [200, { ref: `refs/tags/${name}`, node_id: "REF_x", url: "https://example.invalid", object: { ...object, url: "https://example.invalid" } }];
    },
    "git/get-tag": ({ params }) => {
      const object = this.repo(params).tagObjects?.[params.tag_sha!];
      if (!object) return [404, { message: "Not Found" }];
      return [200, {
        node_id: `TAG_${params.tag_sha}`, tag: "t", sha: params.tag_sha, url: `${this.base.api}/repos/${params.owner}/${params.repo}/git/tags/${params.tag_sha}`, message: "",
        tagger: { date: "2026-11-20T10:00:00Z", email: "maintainer@example.invalid", name: "Maintainer" }, object: { ...object, url: "https://example.invalid" },
      }];
    },
    "actions/create-workflow-dispatch": ({ params, body }) => {
      const repo = this.repo(params);
      const workflow = repo.workflows?.[params.workflow_id!];
      if (!workflow) return [404, { message: "Not Found" }];
      if (!(repo.branches ?? ["main"]).includes(body.ref)) return [422, { message: `No ref found for: ${body.ref}` }];
      if (body.return_run_details !== undefined && !this.supportsRunDetails) {
        return [400, { message: "Invalid request.\n\n\"return_run_details\" is not a permitted key." }];
      }
      const unexpected = workflow.inputs ? Object.keys(body.inputs ?? {}).filter((k) => !workflow.inputs!.includes(k)) : [];
      if (unexpected.length > 0) return [422, { message: `Unexpected inputs provided: ${JSON.stringify(unexpected)}` }];
      if (body.return_run_details !== true) return [204, undefined];
      const runId = this.nextId++;
      const base = `${params.owner}/${params.repo}`;
      this.dispatchedRuns.push({ repo: base, runId, relayRunId: body.inputs?.openci_run_id, workflow: params.workflow_id, at: Date.now() });
      return [200, {
        workflow_run_id: runId,
        run_url: `http://${this.host}/api/v3/repos/${base}/actions/runs/${runId}`,
        html_url: `http://${this.host}/${base}/actions/runs/${runId}`,
      }];
    },
    "repos/create-dispatch-event": () => [204, undefined],
    // Runs as a downstream that follows the README shows them: `run-name: "openci <relay run id>"`.
    "actions/list-workflow-runs": ({ params, query }) => this.workflowRuns(params, query, params.workflow_id),
    "actions/list-workflow-runs-for-repo": ({ params, query }) => this.workflowRuns(params, query, undefined),
    "checks/list-for-suite": ({ params }) => {
      const runs = (this.suiteRuns[Number(params.check_suite_id)] ?? []).map((r, i) => shape.checkRun(this.base, `${params.owner}/${params.repo}`, {
        id: Number(params.check_suite_id) * 100 + i, head_sha: "0".repeat(40), name: r.name, external_id: r.external_id, status: "completed", conclusion: "success",
        output: { title: r.title }, started_at: r.started_at ?? new Date().toISOString(),
      }, shape.actionsApp(this.base)));
      return [200, { total_count: runs.length, check_runs: runs }];
    },
    "actions/list-jobs-for-workflow-run": ({ params }) => {
      const runId = Number(params.run_id);
      const jobs = (this.runJobs[runId] ?? []).map((j, i) => shape.job(this.base, `${params.owner}/${params.repo}`, {
        id: runId * 100 + i, run_id: runId, name: j.name, status: j.conclusion ? "completed" : "in_progress", conclusion: j.conclusion,
        html_url: `http://${this.host}/${params.owner}/${params.repo}/actions/runs/${runId}/job/${runId * 100 + i}`,
      }));
      return [200, { total_count: jobs.length, jobs }];
    },
    "apps/get-authenticated": () => [200, this.app],
    // The manifest flow's last step: the code from the "new app" page, once, for the new app's credentials.
    "apps/create-from-manifest": ({ params }) => {
      const made = this.manifests.find((m) => m.code === params.code);
      if (!made) return [404, shape.error("Not Found")];
      made.code = `spent-${made.code}`;
      this.createdWebhookSecret = randomBytes(20).toString("hex");
      const owner = made.org ?? "octocat";
      return [201, {
        ...shape.integration(this.base, { id: this.appId, slug: this.appSlug, name: String(made.manifest.name), owner }),
        description: typeof made.manifest.description === "string" ? made.manifest.description : null,
        client_secret: randomBytes(20).toString("hex"), webhook_secret: this.createdWebhookSecret, pem: this.appKeyPem,
      }];
    },
    "apps/list-webhook-deliveries": ({ query }) => {
      // Newest first, paged by an opaque cursor as GitHub does (the next page in the Link header).
      const all = [...this.hookDeliveries].reverse();
      const perPage = Number(query.get("per_page") ?? 30);
      const start = Number(query.get("cursor") ?? 0);
      const page = all.slice(start, start + perPage).map((d) => ({
        id: d.id, guid: d.guid, delivered_at: new Date(d.at).toISOString(), redelivery: d.redelivery, duration: 0.05,
        status: d.statusCode >= 200 && d.statusCode < 300 ? "OK" : `${d.statusCode}`, status_code: d.statusCode, event: d.event,
        action: null, installation_id: null, repository_id: null,
      }));
      const next = start + perPage < all.length ? { link: `<http://${this.host}/api/v3/app/hook/deliveries?per_page=${perPage}&cursor=${start + perPage}>; rel="next"` } : undefined;
      return [200, page, next];
    },
    "apps/redeliver-webhook-delivery": ({ params }) => {
      const d = this.hookDeliveries.find((x) => x.id === Number(params.delivery_id));
      if (!d || !this.hookTarget) return [404, shape.error("Not Found")];
      void this.deliver(d.event, d.payload, d.guid, true);
      return [202, {}];
    },
    "repos/list-tags": ({ params, query }) => {
      const repo = this.repo(params);
      const peel = (o: { type: string; sha: string }): string => (o.type === "tag" && repo.tagObjects?.[o.sha] ? peel(repo.tagObjects[o.sha]!) : o.sha);
      const base = `http://${this.host}/api/v3/repos/${params.owner}/${params.repo}`;
      // Paged as GitHub pages (per_page 30 by default, the next page in the Link header), in the order the test declared the tags.
      const [perPage, page] = [Number(query.get("per_page") ?? 30), Number(query.get("page") ?? 1)];
      const all = Object.entries(repo.tags ?? {});
      const last = Math.max(1, Math.ceil(all.length / perPage));
      const link = page < last ? { link: `<${base}/tags?per_page=${perPage}&page=${page + 1}>; rel="next", <${base}/tags?per_page=${perPage}&page=${last}>; rel="last"` } : undefined;
      return [200, all.slice((page - 1) * perPage, page * perPage).map(([name, o]) => ({
        name, node_id: `REF_${name}`, commit: { sha: peel(o), url: `${base}/commits/${peel(o)}` },
        zipball_url: `${base}/zipball/refs/tags/${name}`, tarball_url: `${base}/tarball/refs/tags/${name}`,
      })), link];
    },
    // "Get a published release with the specified tag name" (GitHub docs): a draft answers 404.
    "repos/get-release-by-tag": ({ params }) => {
      const r = this.repo(params).releases?.[params.tag!];
      if (!r || r.draft) return [404, shape.error("Not Found")];
      return [200, shape.release(this.base, `${params.owner}/${params.repo}`, { id: idOfTag(params.tag!), tag: params.tag!, assets: r.assets })];
    },
    "actions/list-workflow-run-artifacts": ({ params }) => {
      const runId = Number(params.run_id);
      const base = `http://${this.host}/api/v3/repos/${params.owner}/${params.repo}/actions/artifacts`;
      const artifacts = (this.runArtifacts[runId] ?? []).map((a, i) => ({
        id: runId * 10 + i, node_id: `A_${runId}_${i}`, name: a.name, size_in_bytes: a.size, url: `${base}/${runId * 10 + i}`,
        archive_download_url: `${base}/${runId * 10 + i}/zip`, expired: false,
        created_at: "2026-11-20T10:00:00Z", expires_at: "2027-02-18T10:00:00Z", updated_at: "2026-11-20T10:00:00Z",
      }));
      return [200, { total_count: artifacts.length, artifacts }];
    },
    "repos/list-pull-requests-associated-with-commit": ({ params }) => {
      const pulls = this.repo(params).pulls?.[params.commit_sha!] ?? [];
      return [200, pulls.map((p) => shape.pullRequestSimple(this.base, `${params.owner}/${params.repo}`, {
        number: p.number, state: p.merged ? "closed" : "open", merged_at: p.merged ? "2026-11-20T10:00:00Z" : null,
        head: { sha: params.commit_sha!, repo: p.fork ? `fork-owner/${params.repo}` : `${params.owner}/${params.repo}` },
      }))];
    },
    "checks/list-suites-for-ref": ({ params }) => {
      const suites = (this.repo(params).suites?.[params.ref!] ?? []).map((cs, i) => shape.checkSuite(this.base, `${params.owner}/${params.repo}`, {
        id: 5000 + i, head_sha: params.ref!, status: cs.status, conclusion: cs.conclusion, latest_check_runs_count: cs.runs ?? 1,
        app: cs.appId === this.appId ? this.app : shape.integration(this.base, { id: cs.appId, slug: `app-${cs.appId}`, name: `App ${cs.appId}` }),
      }));
      return [200, { total_count: suites.length, check_suites: suites }];
    },
    "issues/list-comments": ({ params }) => [200, this.commentsOn(params, `pr-${params.issue_number}`)],
    "repos/list-comments-for-commit": ({ params }) => [200, this.commentsOn(params, `commit-${params.commit_sha}`)],
    "issues/create-comment": ({ params, body }) => [201, this.addComment(params, `pr-${params.issue_number}`, body.body)],
    "repos/create-commit-comment": ({ params, body }) => [201, this.addComment(params, `commit-${params.commit_sha}`, body.body)],
    "issues/update-comment": ({ params, body }) => this.editComment(params, body.body),
    "repos/update-commit-comment": ({ params, body }) => this.editComment(params, body.body),
    "checks/create": ({ params, body }) => {
      const run: CheckRun = {
        id: this.nextId++, repo: `${params.owner}/${params.repo}`, head_sha: body.head_sha, name: body.name,
        status: body.status ?? "queued", conclusion: body.conclusion ?? null, external_id: body.external_id ?? "",
        details_url: body.details_url ?? null, output: body.output ?? {}, app: { id: this.appId },
      };
      this.checkRuns.push(run);
      return [201, this.checkRunJson(run)];
    },
    "checks/update": ({ params, body }) => {
      const run = this.checkRuns.find((c) => c.id === Number(params.check_run_id));
      if (!run) return [404, shape.error("Not Found")];
      Object.assign(run, {
        ...(body.name !== undefined && { name: body.name }),
        ...(body.status !== undefined && { status: body.status }),
        ...(body.conclusion !== undefined && { conclusion: body.conclusion, status: "completed" }),
        ...(body.external_id !== undefined && { external_id: body.external_id }),
        ...(body.details_url !== undefined && { details_url: body.details_url }),
        ...(body.output !== undefined && { output: body.output }),
      });
      return [200, this.checkRunJson(run)];
    },
    "checks/list-for-ref": ({ params, query }) => {
      const runs = this.checkRuns.filter((c) =>
        c.repo === `${params.owner}/${params.repo}` && c.head_sha === params.ref &&
        (!query.get("check_name") || c.name === query.get("check_name")) &&
        (!query.get("app_id") || c.app.id === Number(query.get("app_id"))));
      return [200, { total_count: runs.length, check_runs: runs.map((r) => this.checkRunJson(r)) }];
    },
  };

  /**
   * A stand-in for GitHub's "new app" page (`POST /settings/apps/new`, or an organization's, with
   * the form field `manifest`): GitHub shows the app to the person, who confirms; then GitHub
   * redirects to the manifest's redirect_url with a one-time `code` and the form's `state`. The
   * stand-in confirms at once. A manifest without what GitHub requires is refused (422) and recorded as a problem.
   */
  private newAppPage(res: ServerResponse, raw: string, state: string | null, org: string | undefined): void {
    const form = new URLSearchParams(raw);
    let manifest: Record<string, any> | undefined;
    try {
      manifest = JSON.parse(form.get("manifest") ?? "") as Record<string, any>;
    } catch {
      manifest = undefined;
    }
    const problems = !manifest ? ["the form's `manifest` field is not JSON"] : [
      ...(typeof manifest.url === "string" ? [] : ["manifest `url` is required"]),
      ...(typeof manifest.hook_attributes?.url === "string" ? [] : ["manifest `hook_attributes.url` is required"]),
      ...(typeof manifest.redirect_url === "string" ? [] : ["manifest `redirect_url` is missing: GitHub would not send the person back"]),
      ...Object.keys(manifest).filter((k) => !MANIFEST_KEYS.has(k)).map((k) => `manifest key '${k}' is not one GitHub's manifest takes`),
    ];
    if (problems.length > 0 || !manifest) {
      problems.forEach((p) => this.problems.push(`POST /settings/apps/new: ${p}`));
      res.writeHead(422, { "content-type": "text/html; charset=utf-8" }).end(`<p>${problems.join("; ")}</p>`);
      return;
    }
    const code = randomBytes(10).toString("hex");
    this.manifests.push({ manifest, state, org, code });
    const back = new URL(manifest.redirect_url as string);
    back.searchParams.set("code", code);
    if (state !== null) back.searchParams.set("state", state);
    res.writeHead(302, { location: back.href }).end();
  }

  /** Someone other than the relay writes a comment (`on`: "pr-<number>" or "commit-<sha>"), as GitHub would show it. */
  plantComment(repo: string, on: string, body: string, login = "mallory"): Comment {
    const comment: Comment = { id: this.nextId++, repo, on, body, author: { login, type: "User" } };
    this.comments.push(comment);
    return comment;
  }

  /** A comment as the list endpoints answer: its author (`user`) and, on issue comments, the app that wrote it. */
  private commentJson(c: Comment) {
    const user = shape.simpleUser(this.base, c.author.login, { type: c.author.type });
    if (!c.on.startsWith("pr-")) return shape.commitComment(this.base, c.repo, { id: c.id, sha: c.on.replace(/^commit-/, ""), body: c.body, user });
    const app = c.author.appId !== undefined ? shape.integration(this.base, { id: c.author.appId, slug: this.appSlug, name: "OpenCI Relay (test)" }) : null;
    return shape.issueComment(this.base, c.repo, { id: c.id, issue: Number(c.on.replace(/^pr-/, "")), body: c.body, user, app });
  }

  private commentsOn(params: Record<string, string>, on: string) {
    return this.comments.filter((c) => c.repo === `${params.owner}/${params.repo}` && c.on === on).map((c) => this.commentJson(c));
  }

  private addComment(params: Record<string, string>, on: string, body: string) {
    const comment: Comment = { id: this.nextId++, repo: `${params.owner}/${params.repo}`, on, body, author: { login: `${this.appSlug}[bot]`, type: "Bot", appId: this.appId } };
    this.comments.push(comment);
    return this.commentJson(comment);
  }

  private editComment(params: Record<string, string>, body: string): [number, unknown] {
    const comment = this.comments.find((c) => c.id === Number(params.comment_id) && c.repo === `${params.owner}/${params.repo}`);
    if (!comment) return [404, shape.error("Not Found")];
    comment.body = body;
    return [200, this.commentJson(comment)];
  }

  private repo(params: Record<string, string>): FakeRepo {
    return this.repos[`${params.owner}/${params.repo}`]!;
  }

  private checkRunJson(run: CheckRun) {
    return shape.checkRun(this.base, run.repo, run, run.app.id === this.appId ? this.app : shape.integration(this.base, { id: run.app.id, slug: `app-${run.app.id}`, name: `App ${run.app.id}` }));
  }
}

/** The parameters of a GitHub App manifest (GitHub docs, "Registering a GitHub App from a manifest"). */
const MANIFEST_KEYS = new Set(["name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description", "public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update"]);

/** Operations that answer an ETag and 304 to a matching If-None-Match (GitHub sends ETags on most GETs; the fake where the relay asks conditionally). */
const CONDITIONAL = new Set(["repos/list-tags"]);

/** A weak ETag of an answer's body, as GitHub's API sends them (W/"…"). */
function etagOf(payload: unknown): string {
  return `W/"${createHash("sha256").update(JSON.stringify(payload)).digest("hex").slice(0, 32)}"`;
}

/** If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, or `*`, equal to the current one but for its W/ prefix. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return header !== undefined && header.split(",").some((t) => t.trim() === "*" || opaque(t) === opaque(etag));
}

const APP_JWT_ROUTES = new Set(["apps/get-authenticated", "apps/list-installations", "apps/get-repo-installation", "apps/create-installation-access-token", "apps/list-webhook-deliveries", "apps/redeliver-webhook-delivery"]);

let validator: OpenApiValidator | undefined;
/** Parsing the 10 MB description once per test file is enough. */
export function sharedValidator(): OpenApiValidator {
  validator ??= new OpenApiValidator();
  return validator;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined || status === 204) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(JSON.stringify(body));
}

/** A release's id: stable per tag. */
function idOfTag(tag: string): number {
  return shape.idOf(`release ${tag}`) % 1_000_000;
}

/** A stable blob id for a file at a commit (40 hex, like git's). */
function blobSha(commit: string, path: string): string {
  return createHash("sha1").update(`${commit}:${path}`).digest("hex");
}
