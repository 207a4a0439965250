import { recordingProxy, type SeenRequest } from "./loopback-server.js";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, createPublicKey, randomBytes, sign } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { base32 } from "multiformats/bases/base32";

/**
 * A real OCI registry on loopback: Debian's `docker-registry` (the CNCF distribution registry, 2.8),
 * started with its own configuration in a temporary directory, filesystem storage, no TLS. The relay
 * talks to it through a pass-through that only records requests (`requests`); images are pushed
 * straight to it with its HTTP API (`push`).
 *
 * `auth: "token"` turns on the registry's token authentication: a token server run here (Node http)
 * gives anonymous pull tokens, JWTs signed ES256 with a key whose self-signed certificate (made by the
 * openssl CLI) is the registry's `rootcertbundle`, so the registry itself checks them. `auth: "basic"`
 * gives the registry an htpasswd file: it then answers with a Basic challenge and no anonymous access.
 */

export type { SeenRequest };

export type ImageFormat = "oci" | "docker" | "oci-index" | "docker-list";

export const MEDIA_TYPES: Record<ImageFormat, string> = {
  oci: "application/vnd.oci.image.manifest.v1+json",
  docker: "application/vnd.docker.distribution.manifest.v2+json",
  "oci-index": "application/vnd.oci.image.index.v1+json",
  "docker-list": "application/vnd.docker.distribution.manifest.list.v2+json",
};

export interface PushedImage {
  /** the manifest's digest as the registry answered the PUT (Docker-Content-Digest) */
  digest: string;
  /** sha256 of the bytes put, computed here */
  computedDigest: string;
  /** the bytes put under the tag */
  manifest: Buffer;
  mediaType: string;
  /** for an index or list: the digest of the image manifest it lists */
  child: string | undefined;
}

export interface OciRegistryOptions {
  auth?: "none" | "token" | "basic";
  /** with `auth: "token"`: repositories the token server gives anonymous clients no access to */
  privateRepositories?: string[];
}

export interface OciRegistry {
  /** http://127.0.0.1:<port>: the recording pass-through in front of the registry */
  base: string;
  /** 127.0.0.1:<port> of `base`, as a repository_url names it */
  host: string;
  /** every request through `base`, in order, with the registry's status */
  requests: SeenRequest[];
  /** every request to the token server (auth: "token") */
  tokenRequests: SeenRequest[];
  /** the token server's `service` (the JWT audience) */
  service: string;
  /** makes the token server answer every request with this status (undefined: answer normally) */
  failTokens(status: number | undefined): void;
  /** uploads a minimal image (config and layer blobs, then the manifest) under `repository:tag` */
  push(repository: string, tag: string, format?: ImageFormat): Promise<PushedImage>;
  /** SIGSTOP / SIGCONT the registry: connections are accepted by the kernel, nothing is answered */
  pause(): void;
  resume(): void;
  /** the registry's own log, for a failing test's message */
  log(): string;
  stop(): Promise<void>;
}

const ISSUER = "openci-test-token-issuer";
const SERVICE = "openci-test-registry";

export async function startOciRegistry(opts: OciRegistryOptions = {}): Promise<OciRegistry> {
  const auth = opts.auth ?? "none";
  const dir = await mkdtemp(join(tmpdir(), "openci-oci-registry-"));
  const servers: Server[] = [];
  let child: ChildProcess | undefined;
  const cleanup = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once("exit", () => r()));
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      const killer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const signer = auth === "token" ? await makeSigner(dir) : undefined;
    const tokenRequests: SeenRequest[] = [];
    let tokenFailure: number | undefined;
    let realm: string | undefined;
    if (signer) {
      const privateRepos = new Set(opts.privateRepositories ?? []);
      const tokens = createServer((req, res) => {
        const u = new URL(req.url ?? "/", "http://localhost");
        const seen: SeenRequest = { method: req.method ?? "GET", path: u.pathname, query: u.search.slice(1), headers: req.headers, status: 0 };
        tokenRequests.push(seen);
        const answer = (status: number, body: unknown) => {
          seen.status = status;
          res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
        };
        if (tokenFailure !== undefined) return answer(tokenFailure, { details: "failing on purpose" });
        if (u.pathname !== "/token" || req.method !== "GET") return answer(404, { details: "not found" });
        if (u.searchParams.get("service") !== SERVICE) return answer(400, { details: `unknown service ${u.searchParams.get("service")}` });
        // Anonymous clients get pull on public repositories, nothing else: the intersection the spec asks for, never an error.
        const access = u.searchParams.getAll("scope").flatMap((scope) => {
          const [type, ...rest] = scope.split(":");
          const actions = (rest.pop() ?? "").split(",");
          const name = rest.join(":");
          if (type !== "repository" || privateRepos.has(name)) return [{ type: type ?? "", name, actions: [] as string[] }];
          return [{ type, name, actions: actions.filter((a) => a === "pull") }];
        });
        const token = signer.token(access);
        answer(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
      });
      servers.push(tokens);
      realm = `http://${await listen(tokens)}/token`;
    }

    const htpasswd = join(dir, "htpasswd");
    // A bcrypt line the registry loads; nothing here ever logs in, so the password behind it does not matter.
    if (auth === "basic") await writeFile(htpasswd, `pusher:$2y$05$${"a".repeat(53)}\n`);
    const authConfig = auth === "token"
      ? `auth:\n  token:\n    realm: ${realm}\n    service: ${SERVICE}\n    issuer: ${ISSUER}\n    rootcertbundle: ${join(dir, "cert.pem")}\n`
      : auth === "basic" ? `auth:\n  htpasswd:\n    realm: openci-test\n    path: ${htpasswd}\n` : "";
    const config = join(dir, "config.yml");
    await writeFile(config, [
      "version: 0.1",
      "log:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: true",
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false`,
      `http:\n  addr: 127.0.0.1:0\n  secret: ${randomBytes(16).toString("hex")}`,
      authConfig,
    ].join("\n"));

    const spawned = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
    child = spawned;
    let log = "";
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString("utf8")).slice(-64 * 1024);
    };
    spawned.stdout!.on("data", keep);
    const direct = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`docker-registry did not start within 15 s:\n${log}`)), 15_000);
      spawned.on("error", (err) => (clearTimeout(timer), reject(new Error(`cannot run docker-registry (${err.message}): install Debian's docker-registry package`))));
      spawned.on("exit", (code) => (clearTimeout(timer), reject(new Error(`docker-registry exited (${code}) before listening:\n${log}`))));
      spawned.stderr!.on("data", (chunk: Buffer) => {
        keep(chunk);
        // The registry logs the address it really listens on, which port 0 leaves to the kernel.
        const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
        if (m) (clearTimeout(timer), resolve(`http://${m[1]}`));
      });
    });
    const registryPort = Number(new URL(direct).port);

    const requests: SeenRequest[] = [];
    const proxy = await recordingProxy(registryPort, requests);
    servers.push(proxy.server);
    const host = proxy.host;

    let nonce = 0;
    const push = async (repository: string, tag: string, format: ImageFormat = "oci"): Promise<PushedImage> => {
      if (auth === "basic") throw new Error("push needs auth none or token: the htpasswd registry has no usable password");
      const headers: Record<string, string> = signer ? { Authorization: `Bearer ${signer.token([{ type: "repository", name: repository, actions: ["pull", "push"] }])}` } : {};
      const docker = format === "docker" || format === "docker-list";
      const tar = Buffer.alloc(1024); // an empty tar archive: two zero blocks
      const layer = gzipSync(tar);
      const config = Buffer.from(JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Labels: { "org.openci.test": `${repository}:${tag} #${++nonce}` } },
        rootfs: { type: "layers", diff_ids: [digestOf(tar)] },
      }));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: docker ? MEDIA_TYPES.docker : MEDIA_TYPES.oci,
        config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json", size: config.length, digest: await uploadBlob(direct, repository, config, headers) },
        layers: [{ mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip", size: layer.length, digest: await uploadBlob(direct, repository, layer, headers) }],
      }));
      if (format === "oci" || format === "docker") {
        return { digest: await putManifest(direct, repository, tag, manifest, MEDIA_TYPES[format], headers), computedDigest: digestOf(manifest), manifest, mediaType: MEDIA_TYPES[format], child: undefined };
      }
      const childType = docker ? MEDIA_TYPES.docker : MEDIA_TYPES.oci;
      const listed = await putManifest(direct, repository, digestOf(manifest), manifest, childType, headers);
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES[format],
        manifests: [{ mediaType: childType, size: manifest.length, digest: listed, platform: { architecture: "amd64", os: "linux" } }],
      }));
      return { digest: await putManifest(direct, repository, tag, index, MEDIA_TYPES[format], headers), computedDigest: digestOf(index), manifest: index, mediaType: MEDIA_TYPES[format], child: listed };
    };

    return {
      base: `http://${host}`,
      host,
      requests,
      tokenRequests,
      service: SERVICE,
      failTokens: (status) => {
        tokenFailure = status;
      },
      push,
      pause: () => void spawned.kill("SIGSTOP"),
      resume: () => void spawned.kill("SIGCONT"),
      log: () => log,
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A monolithic upload: POST opens the session, one PUT with the whole blob and its digest closes it. */
async function uploadBlob(registry: string, repository: string, bytes: Buffer, headers: Record<string, string>): Promise<string> {
  const digest = digestOf(bytes);
  const start = await fetch(`${registry}/v2/${repository}/blobs/uploads/`, { method: "POST", headers });
  await start.body?.cancel();
  if (start.status !== 202) throw new Error(`starting a blob upload to ${repository}: ${start.status}`);
  const at = new URL(start.headers.get("location")!, registry);
  at.searchParams.set("digest", digest);
  const put = await fetch(at, { method: "PUT", headers: { ...headers, "Content-Type": "application/octet-stream" }, body: bytes });
  const said = await put.text();
  if (put.status !== 201) throw new Error(`uploading a blob to ${repository}: ${put.status} ${said}`);
  return digest;
}

async function putManifest(registry: string, repository: string, reference: string, body: Buffer, mediaType: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${registry}/v2/${repository}/manifests/${reference}`, { method: "PUT", headers: { ...headers, "Content-Type": mediaType }, body });
  const said = await res.text();
  if (res.status !== 201) throw new Error(`putting the manifest ${repository}:${reference}: ${res.status} ${said}`);
  return res.headers.get("docker-content-digest")!;
}

interface Signer {
  token(access: { type: string; name: string; actions: string[] }[]): string;
}

/**
 * An ES256 key and its self-signed certificate (openssl CLI), the certificate written as the registry's
 * rootcertbundle. Tokens name the key by its libtrust key id (`kid`), which is how registry 2.8 finds a
 * key of the bundle: SHA-256 of the DER public key, its first 240 bits in base32, in groups of four.
 */
async function makeSigner(dir: string): Promise<Signer> {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  await new Promise<void>((resolve, reject) =>
    execFile("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${ISSUER}`],
      (err, _out, stderr) => (err ? reject(new Error(`openssl: ${stderr || err.message}`)) : resolve())));
  const privateKey = await readFile(key, "utf8");
  const spki = createPublicKey(await readFile(cert, "utf8")).export({ type: "spki", format: "der" });
  const kid = base32.baseEncode(createHash("sha256").update(spki).digest().subarray(0, 30)).toUpperCase().match(/.{4}/g)!.join(":");
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return {
    token: (access) => {
      const now = Math.floor(Date.now() / 1000);
      const signed = `${b64({ typ: "JWT", alg: "ES256", kid })}.${b64({ iss: ISSUER, sub: "", aud: SERVICE, exp: now + 300, nbf: now - 60, iat: now, jti: randomBytes(12).toString("hex"), access })}`;
      return `${signed}.${sign("sha256", Buffer.from(signed), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    },
  };
}
