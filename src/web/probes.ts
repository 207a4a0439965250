import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Config } from "../config/env.js";
import { freePort } from "../util/free-port.js";
import { guard, type Handler } from "./http.js";

/** `/healthz`, `/readyz` and `/metrics` on PORT, for a process with no web role; anything else is 404. */
export async function serveProbes(config: Config, handlers: Handler[], log: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const port = config.port === 0 ? await freePort() : config.port;
  const host = config.host ?? "0.0.0.0";
  const probes = createServer((req, res) => {
    void (async () => {
      for (const h of handlers) if (await guard(h, log)(req, res)) return;
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "a worker process serves only /healthz, /readyz and /metrics" }));
    })().catch((err: unknown) => {
      log.error({ err }, "probe request failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    probes.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`the worker's health and metrics port ${host}:${port} cannot be used (${err.code ?? err.message}): set PORT to a free port, or 0 for any`)));
    probes.listen(port, host, () => resolve());
  });
  return {
    url: `http://${host}:${(probes.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      probes.closeAllConnections();
      probes.close(() => resolve());
    }),
  };
}
