import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { runServer } from "verdaccio";
import { recordingProxy, type SeenRequest } from "./loopback-server.js";

/**
 * A real npm registry on loopback: Verdaccio (the devDependency, 6.8), started in this process with
 * its programmatic API (`runServer`) on a free 127.0.0.1 port, its storage and htpasswd file in a
 * temporary directory, no uplinks (it never reaches npmjs.org: what it has is what a test published),
 * its log at `fatal`. Anyone may read; publishing needs a user, which `startVerdaccio` registers
 * (`PUT /-/user/org.couchdb.user:<name>`, answering a token). Packages matching `privateScopes` can
 * be read by authenticated users only: Verdaccio answers an anonymous read of them 401.
 *
 * The code under test talks to it through a pass-through that only records requests (`requests`,
 * with Verdaccio's status), so a test can see what was asked: Verdaccio answers `@scope/name` and
 * `@scope%2Fname` alike, the public registry does not. `publish` and `tarball` go to Verdaccio
 * directly and are not recorded.
 */
export interface Verdaccio {
  /** http://127.0.0.1:<port>: the recording pass-through in front of Verdaccio */
  base: string;
  /** every request through `base`, in order, with Verdaccio's status */
  requests: SeenRequest[];
  /** publishes `name@version` as `npm publish` does; the integrity and shasum of `tarball`, computed here */
  publish(name: string, version: string, tarball: Buffer): Promise<{ integrity: string; shasum: string }>;
  /** the bytes Verdaccio serves at the version's `dist.tarball` */
  tarball(name: string, version: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export interface VerdaccioOptions {
  /** package patterns (Verdaccio's `packages` keys, e.g. `@private/*`) only authenticated users may read */
  privateScopes?: string[];
}

const USER = { name: "openci-test", password: "openci-test-password" };

export async function startVerdaccio(opts: VerdaccioOptions = {}): Promise<Verdaccio> {
  const dir = await mkdtemp(join(tmpdir(), "openci-verdaccio-"));
  const servers: Server[] = [];
  const stop = async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const restricted = Object.fromEntries((opts.privateScopes ?? []).map((p) => [p, { access: "$authenticated", publish: "$authenticated" }]));
    const registry: Server = await runServer({
      self_path: join(dir, "config.yaml"), // relative paths would resolve beside it; there are none
      storage: join(dir, "storage"),
      uplinks: {},
      packages: { ...restricted, "**": { access: "$all", publish: "$authenticated" } },
      auth: { htpasswd: { file: join(dir, "htpasswd"), max_users: 1 } },
      web: { enable: false },
      log: { type: "stdout", format: "json", level: "fatal" },
    });
    servers.push(registry);
    const direct = await listen(registry);

    const requests: SeenRequest[] = [];
    const port = Number(new URL(direct).port);
    const proxy = await recordingProxy(port, requests);
    servers.push(proxy.server);
    const base = `http://${proxy.host}`;

    const login = await call(direct, "PUT", `/-/user/org.couchdb.user:${USER.name}`, { _id: `org.couchdb.user:${USER.name}`, name: USER.name, password: USER.password, type: "user", roles: [] });
    const token = (login.json as { token?: unknown }).token;
    if (login.status !== 201 || typeof token !== "string") throw new Error(`Verdaccio did not register the test user: ${login.status} ${login.text}`);

    const publish = async (name: string, version: string, tarball: Buffer) => {
      const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
      const shasum = createHash("sha1").update(tarball).digest("hex");
      // the document libnpmpublish (npm publish) sends: the attachment named <name>-<version>.tgz, the
      // tarball at <registry>/<name>/-/<name>-<version>.tgz, the scoped name's slash escaped in the path
      const file = `${name}-${version}.tgz`;
      const manifest = { _id: `${name}@${version}`, name, version, dist: { tarball: `${direct}/${name}/-/${file}`, integrity, shasum } };
      const doc = {
        _id: name, name, "dist-tags": { latest: version }, versions: { [version]: manifest }, access: null,
        _attachments: { [file]: { content_type: "application/octet-stream", data: tarball.toString("base64"), length: tarball.length } },
      };
      const put = await call(direct, "PUT", `/${name.replace("/", "%2f")}`, doc, token);
      if (put.status !== 201) throw new Error(`Verdaccio refused to publish ${name}@${version}: ${put.status} ${put.text}`);
      return { integrity, shasum };
    };

    const tarball = async (name: string, version: string) => {
      const m = await call(direct, "GET", `/${name.replace("/", "%2f")}/${encodeURIComponent(version)}`);
      const url = (m.json as { dist?: { tarball?: unknown } }).dist?.tarball;
      if (m.status !== 200 || typeof url !== "string") throw new Error(`Verdaccio has no ${name}@${version}: ${m.status} ${m.text}`);
      const res = await fetch(url);
      if (res.status !== 200) throw new Error(`Verdaccio did not serve ${url}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    };

    return { base, requests, publish, tarball, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * A package tarball as `npm pack` makes it: a gzip'd ustar archive holding `package/package.json`
 * (mode 644, npm's fixed mtime of 1985-10-26). `files` adds more entries under `package/`.
 */
export function npmTarball(name: string, version: string, files: Record<string, string> = {}): Buffer {
  const entries = { "package.json": `${JSON.stringify({ name, version }, null, 2)}\n`, ...files };
  const blocks = Object.entries(entries).flatMap(([path, text]) => tarEntry(`package/${path}`, Buffer.from(text)));
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

function tarEntry(path: string, data: Buffer): Buffer[] {
  if (Buffer.byteLength(path) > 100) throw new Error(`${path}: longer than a ustar name`);
  const header = Buffer.alloc(512);
  const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, "0")}\0`;
  header.write(path, 0, 100);
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108); // uid
  header.write(octal(0, 8), 116); // gid
  header.write(octal(data.length, 12), 124);
  header.write(octal(Date.UTC(1985, 9, 26, 8, 15) / 1000, 12), 136);
  header.write(" ".repeat(8), 148); // the checksum counts its own field as spaces
  header.write("0", 156); // a regular file
  header.write("ustar\0" + "00", 257);
  const sum = header.reduce((a, b) => a + b, 0);
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return [header, data, Buffer.alloc((512 - (data.length % 512)) % 512)];
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => (server.off("error", reject), resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(origin: string, method: "GET" | "PUT", path: string, body?: unknown, token?: string): Promise<{ status: number; text: string; json: unknown }> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${origin}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}
