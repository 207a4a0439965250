import { afterEach } from "@jest/globals";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A request a test server saw, and the status it answered. */
export interface SeenRequest {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  status: number;
}

/**
 * Loopback servers answering every request with a handler, for the misbehaving hosts a real server
 * cannot be made to imitate; closed after each test. `serve(handler)` resolves to the server's origin.
 */
export function useLoopbackServers() {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
  });
  return async (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> => {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
}

/**
 * A recording pass-through on a free loopback port in front of a real server on `port`: every
 * request is forwarded as it came and recorded with the status the server answered, so a test can
 * assert what a client asked for (a real registry answers some spellings alike). Resolves to the
 * server to close and `host:port`.
 */
export async function recordingProxy(port: number, requests: SeenRequest[]): Promise<{ server: Server; host: string }> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://localhost");
    const seen: SeenRequest = { method: req.method ?? "GET", path: u.pathname, query: u.search.slice(1), headers: req.headers, status: 0 };
    requests.push(seen);
    const upstream = httpRequest({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      seen.status = r.statusCode ?? 0;
      res.writeHead(seen.status, r.headers);
      r.pipe(res);
    });
    upstream.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => (server.off("error", reject), resolve()));
  });
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}
