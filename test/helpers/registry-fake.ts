import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { SeenRequest } from "./loopback-server.js";

/** A request a registry fake saw, and what it answered: what every loopback test server records. */
export type RegistryRequest = SeenRequest;

/** One documented route: a method, a path pattern (decoded captures), and its answer. */
export interface RegistryRoute {
  method: "GET" | "HEAD";
  pattern: RegExp;
  answer: (m: string[], req: IncomingMessage) => { status: number; body?: unknown; headers?: Record<string, string> };
}

/**
 * What every documented-API registry fake shares (test/fakes/pypi, goproxy, maven): real HTTP on
 * loopback, every request recorded, only the routes copied from the registry's docs answered; anything
 * else is a `problem` (a test fails on it) and a 404. `fail(status, times)` makes the next answers fail.
 */
export class RegistryFake {
  readonly requests: RegistryRequest[] = [];
  readonly problems: string[] = [];
  private faults: { status: number; times: number; headers: Record<string, string> }[] = [];
  private constructor(private readonly server: Server, readonly base: string) {}

  static async start(name: string, routes: RegistryRoute[]): Promise<RegistryFake> {
    let fake: RegistryFake | undefined;
    const server = createServer((req, res) => fake!.handle(name, routes, req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    fake = new RegistryFake(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return fake;
  }

  /** host:port, as a purl's repository_url names it */
  get host(): string {
    return this.base.replace(/^http:\/\//, "");
  }

  fail(status: number, times = 1, headers: Record<string, string> = {}): void {
    this.faults.push({ status, times, headers });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(name: string, routes: RegistryRoute[], req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const seen: RegistryRequest = { method: req.method ?? "GET", path: url.pathname, query: url.search.slice(1), headers: req.headers, status: 0 };
    this.requests.push(seen);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      seen.status = status;
      const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
      const type = typeof body === "string" ? "text/plain; charset=utf-8" : "application/json";
      res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(text)), ...headers });
      res.end(req.method === "HEAD" ? undefined : text);
    };
    const fault = this.faults.find((f) => f.times > 0);
    if (fault) {
      fault.times--;
      return send(fault.status, `failing on purpose (${fault.status})`, fault.headers);
    }
    if (url.search !== "") this.problems.push(`${name}: ${req.method} ${url.pathname}${url.search}: the documented routes take no query`);
    for (const route of routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m || route.method !== req.method) continue;
      let captures: string[];
      try {
        captures = m.slice(1).map((c) => decodeURIComponent(c));
      } catch {
        this.problems.push(`${name}: ${req.method} ${url.pathname}: broken percent-encoding`);
        return send(400, "bad request");
      }
      const a = route.answer(captures, req);
      return send(a.status, a.body, a.headers);
    }
    this.problems.push(`${name}: ${req.method} ${url.pathname} is not a documented route of the fake`);
    send(404, "not found");
  }
}
