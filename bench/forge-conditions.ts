import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Forge conditions the fake GitHub does not have, as a small HTTP proxy in front of it: a latency
 * on every answer, and GitHub's secondary rate limit on content-creating requests ("no more than
 * 80 a minute", enforced here per installation over a sliding 60 s window, answered with 403 and
 * `retry-after` as GitHub does). The fake stays the one that checks and answers each request.
 */
export interface ForgeConditions {
  /** added before each request is passed on (the forge "answers in" about this long) */
  latencyMs?: number;
  /** content-creating requests (not GET/HEAD, not token requests) per installation and rolling minute */
  writesPerMinute?: number;
}

export interface WriteRecord {
  installation: number;
  at: number;
  method: string;
  path: string;
}

const WINDOW_MS = 60_000;
const TOKEN_ROUTE = /^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/;
const SECONDARY_LIMIT = {
  message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
  documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
};

export class ForgeConditionsProxy {
  /** every content write passed on to the forge */
  readonly writes: WriteRecord[] = [];
  /** every write answered 403 by the limit */
  readonly limited: WriteRecord[] = [];
  private readonly tokens = new Map<string, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly server: Server;

  private constructor(private readonly target: string, private readonly conditions: ForgeConditions) {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  /** `target` is the fake's host:port; GHE_HOST then points at the proxy's `host`. */
  static async start(target: string, conditions: ForgeConditions): Promise<ForgeConditionsProxy> {
    const proxy = new ForgeConditionsProxy(target, conditions);
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", () => r()));
    return proxy;
  }

  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
    this.agent.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (this.conditions.latencyMs) await new Promise((r) => setTimeout(r, this.conditions.latencyMs));
    const method = req.method ?? "GET";
    const path = (req.url ?? "/").split("?")[0]!;
    const installation = this.tokens.get((req.headers.authorization ?? "").replace(/^token /i, ""));
    const write = installation !== undefined && method !== "GET" && method !== "HEAD" && !TOKEN_ROUTE.test(path);
    if (write) {
      const record = { installation, at: Date.now(), method, path };
      const retryAfterS = this.overBudget(installation, record.at);
      if (retryAfterS !== undefined) {
        this.limited.push(record);
        res.writeHead(403, { "content-type": "application/json; charset=utf-8", "retry-after": String(retryAfterS) }).end(JSON.stringify(SECONDARY_LIMIT));
        return;
      }
      this.writes.push(record);
    }
    this.forward(req, body, res);
  }

  /** Seconds until the installation may write again, or undefined while under its budget. */
  private overBudget(installation: number, now: number): number | undefined {
    const limit = this.conditions.writesPerMinute;
    if (!limit) return undefined;
    const recent = this.writes.filter((w) => w.installation === installation && w.at > now - WINDOW_MS);
    if (recent.length < limit) return undefined;
    return Math.max(1, Math.ceil((recent[0]!.at + WINDOW_MS - now) / 1000));
  }

  private forward(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const [hostname, port] = this.target.split(":");
    const upstream = request(
      { hostname, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: this.target }, agent: this.agent },
      (answer) => {
        const tokenRoute = TOKEN_ROUTE.exec((req.url ?? "").split("?")[0]!);
        if (!tokenRoute || answer.statusCode !== 201) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        // Learn which installation a token belongs to, to count its writes.
        void readBody(answer).then((text) => {
          this.tokens.set((JSON.parse(text.toString()) as { token: string }).token, Number(tokenRoute[1]));
          res.writeHead(201, answer.headers).end(text);
        });
      },
    );
    upstream.on("error", (err) => res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ message: `proxy: ${err.message}` })));
    upstream.end(body);
  }
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}
