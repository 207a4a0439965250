import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { SetupEnv } from "../config/env.js";
import { buildManifest, readAppYml } from "./app-manifest.js";
import { addToEnvFile } from "./env-file.js";
import { ConversionError, convertManifestCode } from "./manifest-conversion.js";
import { donePage, errorPage, noWebhookUrlPage, setupFormPage } from "./setup-pages.js";

/** Probot's webhook route, where the relay's GitHub deliveries arrive. */
export const GITHUB_WEBHOOK_PATH = "/api/github/webhooks";
const CALLBACK_PATH = "/setup/callback";
/** A form's state is accepted for as long as GitHub's code is (an hour), once. */
const STATE_TTL_MS = 3600_000;
const MAX_STATES = 100;
const ORG = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** `npm start` with no GitHub App configured at all serves the setup page instead of failing. */
export function needsSetup(env: NodeJS.ProcessEnv): boolean {
  return ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET"].every((k) => (env[k] ?? "").trim() === "");
}

export interface SetupOptions {
  env: SetupEnv;
  /** where the app's variables are written (.env in the working folder) */
  envFile: string;
  appYml: string;
  log: Logger;
}

export interface SetupServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The setup page (GET /setup), a form that posts app.yml's manifest to GitHub's "new app" page,
 * and its callback (GET /setup/callback?code&state), which turns GitHub's one-time code into the
 * app's credentials and writes them to .env. The state ties a callback to a form this process
 * served, so nobody can make it write another app's credentials.
 */
export async function startSetupServer(o: SetupOptions): Promise<SetupServer> {
  const app = readAppYml(o.appYml);
  const states = new Map<string, number>();
  const githubWeb = o.env.GHE_HOST ? `${o.env.GHE_PROTOCOL}://${o.env.GHE_HOST}` : "https://github.com";
  const apiUrl = o.env.GHE_HOST ? `${githubWeb}/api/v3` : "https://api.github.com";
  const hook = o.env.WEBHOOK_PROXY_URL
    ? { url: o.env.WEBHOOK_PROXY_URL, via: "WEBHOOK_PROXY_URL" as const }
    : o.env.OPENCI_PUBLIC_URL ? { url: `${o.env.OPENCI_PUBLIC_URL.replace(/\/+$/, "")}${GITHUB_WEBHOOK_PATH}`, via: "OPENCI_PUBLIC_URL" as const } : undefined;

  const send = (res: ServerResponse, status: number, html: string): void => {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-frame-options": "DENY" }).end(html);
  };

  const formPage = (req: IncomingMessage, url: URL, res: ServerResponse) => {
    if (!hook) return send(res, 200, noWebhookUrlPage());
    const org = url.searchParams.get("org")?.trim() || undefined;
    if (org !== undefined && !ORG.test(org)) {
      const e = errorPage("Not an organization login", `'${org}' is not a GitHub organization login (letters, digits and hyphens, at most 39).`, 400);
      return send(res, e.status, e.html);
    }
    const base = relayBase(req, o.env.OPENCI_PUBLIC_URL);
    if (!base) {
      const e = errorPage("Unknown address", "The request names no usable Host: open this page by the relay's address, e.g. http://localhost:3000/setup.", 400);
      return send(res, e.status, e.html);
    }
    const state = randomBytes(16).toString("hex");
    states.set(state, Date.now() + STATE_TTL_MS);
    while (states.size > MAX_STATES) states.delete(states.keys().next().value!);
    const manifest = buildManifest(app, { hookUrl: hook.url, redirectUrl: `${base}${CALLBACK_PATH}` });
    const action = `${githubWeb}${org ? `/organizations/${encodeURIComponent(org)}` : ""}/settings/apps/new?state=${state}`;
    send(res, 200, setupFormPage({ action, manifest, org, githubWeb, hookUrl: hook.url, hookVia: hook.via, events: app.default_events }));
  };

  const callback = async (url: URL, res: ServerResponse) => {
    const code = url.searchParams.get("code") ?? "";
    const state = url.searchParams.get("state") ?? "";
    const expires = states.get(state);
    if (expires === undefined || expires < Date.now()) {
      const e = errorPage("This link is not from this relay's setup page", "The callback's state is unknown, used already or expired (the relay may have restarted): start again from the setup page.", 400);
      return send(res, e.status, e.html);
    }
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(code)) {
      const e = errorPage("GitHub sent no code", "The callback carries no valid code: start again from the setup page.", 400);
      return send(res, e.status, e.html);
    }
    states.delete(state);
    try {
      const created = await convertManifestCode(apiUrl, code);
      const { written, kept } = addToEnvFile(o.envFile, {
        APP_ID: String(created.id), PRIVATE_KEY: created.pem, WEBHOOK_SECRET: created.webhook_secret, GITHUB_APP_SLUG: created.slug,
      });
      o.log.info({ appId: created.id, slug: created.slug, written, kept, file: o.envFile }, "GitHub App registered: install it, then restart the relay");
      send(res, 200, donePage({ name: created.name, htmlUrl: created.html_url, envFile: o.envFile, written, kept }));
    } catch (error) {
      if (!(error instanceof ConversionError)) throw error;
      o.log.warn({ err: error.message }, "the GitHub App could not be created");
      const e = errorPage("The GitHub App could not be created", error.message, 502);
      send(res, e.status, e.html);
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://setup.invalid");
    const route = req.method === "GET" || req.method === "HEAD" ? url.pathname : undefined;
    const done = (p: Promise<void> | void) => Promise.resolve(p).catch((err: unknown) => {
      o.log.error({ err }, "setup page failed");
      const e = errorPage("Something went wrong", `${(err as Error).message}`, 500);
      if (!res.headersSent) send(res, e.status, e.html);
    });
    if (route === "/") return void res.writeHead(302, { location: "/setup" }).end();
    if (route === "/setup") return void done(formPage(req, url, res));
    if (route === CALLBACK_PATH) return void done(callback(url, res));
    if (route === "/healthz") return void res.writeHead(200, { "content-type": "text/plain" }).end("setup: no GitHub App yet\n");
    const e = errorPage("Not here yet", "The relay has no GitHub App yet, so only its setup page is served: open /setup.", req.url?.startsWith(GITHUB_WEBHOOK_PATH) ? 503 : 404);
    send(res, e.status, e.html);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // Whoever completes this page decides which app the relay runs as: until there is one, only this
    // machine may open it (a remote server: ssh -L 3000:localhost:3000), unless HOST says otherwise.
    server.listen(o.env.PORT, o.env.HOST ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shown = !o.env.HOST || o.env.HOST === "0.0.0.0" || o.env.HOST === "::" ? "localhost" : o.env.HOST.includes(":") ? `[${o.env.HOST}]` : o.env.HOST;
  return {
    url: `http://${shown}:${port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Where GitHub sends the person back: the address they opened the page by (OPENCI_PUBLIC_URL's scheme when it is that host). */
function relayBase(req: IncomingMessage, publicUrl: string | undefined): string | undefined {
  const host = req.headers.host;
  if (!host || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return undefined;
  if (publicUrl && new URL(publicUrl).host === host) return new URL(publicUrl).origin;
  return `http://${host}`;
}
