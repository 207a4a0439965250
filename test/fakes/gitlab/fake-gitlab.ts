import { readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A fake GitLab API v4 on loopback that the real @gitbeaker/rest client talks to. Routes and
 * parameters come from GitLab's documentation (api/*.json, copied from the docs with SOURCE.md):
 * an undocumented route, an unknown or a missing required parameter is recorded as a problem.
 */
interface DocRoute {
  method: string;
  regex: RegExp;
  names: string[];
  params: { name: string; required: boolean }[];
  doc: string;
}

export interface RecordedGitlabRequest {
  method: string;
  path: string;
  doc: string | undefined;
  params: Record<string, unknown>;
  at: number;
}

export interface FakePipeline {
  id: number;
  project: string;
  ref: string;
  status: string;
  variables: { key: string; value: string }[];
  jobs: { name: string; status: string }[];
}

/** Pagination parameters GitLab documents once for every list endpoint. */
const PAGINATION = new Set(["page", "per_page", "pagination"]);

const routes: DocRoute[] = readdirSync(new URL("./api/", import.meta.url))
  .filter((f) => f.endsWith(".json"))
  .map((file) => {
    const doc = JSON.parse(readFileSync(new URL(`./api/${file}`, import.meta.url), "utf8")) as { request: string; params: { name: string; required: boolean | string }[] };
    const [method, path] = doc.request.split(" ") as [string, string];
    const names: string[] = [];
    const pattern = path.split("/").map((seg) => (seg.startsWith(":") ? (names.push(seg.slice(1)), "([^/]+)") : seg)).join("/");
    return {
      method, regex: new RegExp(`^${pattern}$`), names, doc: file.replace(/\.json$/, ""),
      params: doc.params.map((p) => ({ name: p.name, required: p.required === true || p.required === "yes" })),
    };
  });

export class FakeGitlab {
  readonly requests: RecordedGitlabRequest[] = [];
  readonly problems: string[] = [];
  readonly pipelines: FakePipeline[] = [];
  private readonly server: Server;
  private nextId = 7000;

  private constructor(readonly token: string, readonly projects: string[]) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(o: { token: string; projects: string[] }): Promise<FakeGitlab> {
    const fake = new FakeGitlab(o.token, o.projects);
    await new Promise<void>((r) => fake.server.listen(0, "127.0.0.1", () => r()));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  calls(doc: string): RecordedGitlabRequest[] {
    return this.requests.filter((r) => r.doc === doc);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const raw = await new Promise<string>((resolve) => {
      let b = "";
      req.on("data", (c) => (b += c));
      req.on("end", () => resolve(b));
    });
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/^\/api\/v4/, "");
    const route = routes.find((r) => r.method === method && r.regex.test(path));
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const pathParams = route ? Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(route.regex.exec(path)![i + 1]!)])) : {};
    const query = Object.fromEntries([...url.searchParams.keys()].map((k) => [k.replace(/\[\]$/, ""), url.searchParams.getAll(k).length > 1 ? url.searchParams.getAll(k) : url.searchParams.get(k)]));
    const params = { ...query, ...body, ...pathParams };
    this.requests.push({ method, path, doc: route?.doc, params, at: Date.now() });
    if (!url.pathname.startsWith("/api/v4/") || !route) {
      this.problems.push(`${method} ${url.pathname} is not a documented GitLab API route`);
      return send(res, 404, { message: "404 Not Found" });
    }
    for (const p of route.params) if (p.required && params[p.name] === undefined) this.problems.push(`${method} ${path}: missing required '${p.name}'`);
    for (const name of Object.keys(params)) {
      if (!route.params.some((p) => p.name === name) && !PAGINATION.has(name)) this.problems.push(`${method} ${path}: '${name}' is not a documented parameter`);
    }
    if (req.headers["private-token"] !== this.token) return send(res, 401, { message: "401 Unauthorized" });
    const project = String(pathParams.id);
    if (!this.projects.includes(project)) return send(res, 404, { message: "404 Project Not Found" });

    switch (route.doc) {
      case "create_pipeline": {
        const pipeline: FakePipeline = {
          id: this.nextId++, project, ref: String(params.ref), status: "pending",
          variables: (params.variables as { key: string; value: string }[] | undefined) ?? [], jobs: [],
        };
        this.pipelines.push(pipeline);
        return send(res, 201, this.json(pipeline));
      }
      case "get_pipeline": {
        const pipeline = this.pipelines.find((p) => p.id === Number(pathParams.pipeline_id) && p.project === project);
        return pipeline ? send(res, 200, this.json(pipeline)) : send(res, 404, { message: "404 Not found" });
      }
      case "list_pipeline_jobs": {
        const pipeline = this.pipelines.find((p) => p.id === Number(pathParams.pipeline_id) && p.project === project);
        const scope = ([] as unknown[]).concat(params.scope ?? []);
        const jobs = (pipeline?.jobs ?? []).filter((j) => scope.length === 0 || scope.includes(j.status));
        return send(res, 200, jobs.map((j, i) => ({ id: i + 1, name: j.name, status: j.status, stage: "test" })));
      }
      default:
        this.problems.push(`${method} ${path}: the fake has no answer for ${route.doc}`);
        return send(res, 501, { message: "not faked" });
    }
  }

  private json(p: FakePipeline) {
    return {
      id: p.id, iid: p.id - 6999, project_id: 1, sha: "384c444e840a515b23f21915ee5766b87068a70d", ref: p.ref, status: p.status,
      web_url: `${this.url}/${p.project}/-/pipelines/${p.id}`, created_at: "2026-11-21T10:00:00Z", updated_at: "2026-11-21T10:05:00Z",
      started_at: "2026-11-21T10:00:05Z", finished_at: p.status === "pending" || p.status === "running" ? null : "2026-11-21T10:05:00Z",
    };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
