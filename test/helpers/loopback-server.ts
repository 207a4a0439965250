import { afterEach } from "@jest/globals";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, type Server } from "node:http";
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
