import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The HTTP side of a fake service on loopback: a server on a free 127.0.0.1 port handing every
 * request to `handle`. A fake's static `start()` constructs it and awaits `listen()`; `stop()`
 * cuts the connections still open (keep-alive) and closes the server.
 */
export abstract class LoopbackFake {
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  protected async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
  }

  /** The fake's base URL: http://127.0.0.1:<port>. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
