import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface SinkDelivery {
  headers: IncomingHttpHeaders;
  /** the raw body, as the signature covers it */
  body: string;
  status: number;
}

/** A subscriber's endpoint on loopback: records every POST; answers `status()` (200 unless told). */
export async function startSinkServer(status: () => number = () => 200) {
  const deliveries: SinkDelivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const code = status();
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status: code });
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cdevents`,
    deliveries,
    /** the deliveries it accepted (2xx) */
    accepted: () => deliveries.filter((d) => d.status >= 200 && d.status < 300),
    stop: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
