import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import ts from "typescript";
import { parseAllDocuments } from "yaml";
import { dockerignore, execForm, parseDockerfile, parseEnvArgs, type Instruction } from "../../scripts/dockerfile.mjs";
import { loadMap } from "../../src/map/load.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const DIR = join(ROOT, "deploy/kubernetes");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

// ---- the manifests, as plain objects -----------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string } };
}
interface HttpProbe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  ports: { name: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string; optional?: boolean } }[];
  readinessProbe?: HttpProbe;
  livenessProbe?: HttpProbe;
  startupProbe?: HttpProbe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  topologySpreadConstraints?: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } | Record<string, string>;
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    ports?: { port: number; targetPort: string | number }[];
  };
  stringData?: Record<string, string>;
}
interface Kustomization {
  resources?: string[];
  namespace?: string;
  configMapGenerator?: { name: string; envs?: string[]; files?: string[] }[];
  images?: { name: string }[];
}

function documents(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), "utf8"));
  const errors = docs.flatMap((d) => d.errors.map((e) => `${file}: ${e.message}`));
  if (errors.length > 0) throw new Error(errors.join("\n"));
  return docs.map((d) => d.toJS() as Manifest);
}

const kustomization = documents("kustomization.yaml")[0] as unknown as Kustomization;
const manifestFiles = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml" && f !== "openci-map.yml");
const applied = (kustomization.resources ?? []).flatMap(documents);
const examples = manifestFiles.filter((f) => f.includes(".example.")).flatMap(documents);
const deployments = applied.filter((m) => m.kind === "Deployment");
const web = deployments.find((d) => d.metadata.name === "openci-relay-web")!;
const worker = deployments.find((d) => d.metadata.name === "openci-relay-worker")!;
const pod = (d: Manifest) => d.spec!.template!.spec;
const relay = (d: Manifest) => pod(d).containers[0]!;
const generated = (name: string) => kustomization.configMapGenerator?.find((g) => g.name === name);

/** relay.env as `envs` reads it: VAR=value lines; commented ones are examples to uncomment. */
function envFile(file: string): { set: Record<string, string>; examples: string[] } {
  const lines = readFileSync(join(DIR, file), "utf8").split("\n");
  const set = Object.fromEntries(lines.map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]));
  const examples = lines.map((l) => /^#\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
  return { set, examples };
}

// ---- what the relay reads ----------------------------------------------------------------------

/** The keys of `const EnvSchema = z.object({ … })` in src/config/env.ts, read from its syntax tree. */
function relayEnvNames(): Set<string> {
  const source = ts.createSourceFile("env.ts", read("src/config/env.ts"), ts.ScriptTarget.ES2022, true);
  let names: string[] | undefined;
  const findObject = (node: ts.Node): void => {
    if (names) return;
    if (ts.isCallExpression(node) && node.expression.getText(source) === "z.object" && ts.isObjectLiteralExpression(node.arguments[0]!)) {
      names = node.arguments[0].properties.map((p) => p.name?.getText(source).replace(/^["']|["']$/g, "")).filter((n): n is string => n !== undefined);
      return;
    }
    ts.forEachChild(node, findObject);
  };
  const findSchema = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText(source) === "EnvSchema" && node.initializer) findObject(node.initializer);
    else ts.forEachChild(node, findSchema);
  };
  findSchema(source);
  if (!names) throw new Error("src/config/env.ts has no `EnvSchema = z.object({ … })` any more: teach this test where the variables are");
  return new Set(names);
}

const documentedNames = new Set(read(".env.example").split("\n").map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter((n): n is string => n !== undefined));

/** Every variable name the manifests give the relay (the map's own, in openci-relay-map-secrets, are the operator's). */
function namesUsed(): string[] {
  const fromContainers = deployments.flatMap((d) => relay(d).env ?? []).map((e) => e.name);
  const env = envFile("relay.env");
  const fromSecret = examples.filter((m) => m.kind === "Secret").flatMap((m) => Object.keys(m.stringData ?? {}));
  return [...new Set([...fromContainers, ...Object.keys(env.set), ...env.examples, ...fromSecret])].sort();
}

// ---- the Dockerfile ----------------------------------------------------------------------------

const dockerfile = parseDockerfile(read("Dockerfile"));
const runtime = dockerfile.stages.at(-1)!;
const runtimeSteps = (keyword: string) => runtime.instructions.filter((i: Instruction) => i.keyword === keyword);

describe("deploy/kubernetes", () => {
  it("parses, one object a document, none tied to a namespace", () => {
    const all = [...applied, ...examples];

    expect(all.length).toBeGreaterThanOrEqual(7);
    expect(all.filter((m) => !m.apiVersion || !m.kind || !m.metadata?.name)).toEqual([]);
    expect(all.filter((m) => m.metadata.namespace !== undefined).map((m) => m.metadata.name)).toEqual([]);
    expect(kustomization.namespace).toBeUndefined();
  });

  it("applies two Deployments, the web role's Service and a PodDisruptionBudget for each", () => {
    const kinds = applied.map((m) => `${m.kind}/${m.metadata.name}`).sort();

    expect(kinds).toEqual([
      "Deployment/openci-relay-web", "Deployment/openci-relay-worker",
      "PodDisruptionBudget/openci-relay-web", "PodDisruptionBudget/openci-relay-worker",
      "Service/openci-relay-web",
    ]);
    expect(examples.map((m) => m.kind).sort()).toEqual(["Ingress", "Secret"]);
  });

  it("kustomization.yaml lists every file but the examples, and only files that exist", () => {
    const listed = [...(kustomization.resources ?? []), ...(kustomization.configMapGenerator ?? []).flatMap((g) => [...(g.envs ?? []), ...(g.files ?? [])])];
    const present = readdirSync(DIR).filter((f) => f !== "kustomization.yaml");

    expect([...listed].sort()).toEqual(present.filter((f) => !f.includes(".example.")).sort());
    expect(present.filter((f) => f.includes(".example.")).sort()).toEqual(["ingress.example.yaml", "secret.example.yaml"]);
  });

  it("runs one image in both roles: web twice, worker three times", () => {
    const roles = deployments.map((d) => ({
      name: d.metadata.name,
      replicas: d.spec!.replicas,
      role: relay(d).env?.find((e) => e.name === "OPENCI_ROLE")?.value,
      image: relay(d).image,
    }));

    expect(roles).toEqual([
      { name: "openci-relay-web", replicas: 2, role: "web", image: "openci-relay" },
      { name: "openci-relay-worker", replicas: 3, role: "worker", image: "openci-relay" },
    ]);
    expect(kustomization.images?.map((i) => i.name)).toEqual(["openci-relay"]);
  });

  it.each(["openci-relay-web", "openci-relay-worker"])("%s: ready on GET /readyz and alive on GET /healthz, at the relay's PORT", (name) => {
    const container = relay(deployments.find((d) => d.metadata.name === name)!);
    const portOf = (probe: HttpProbe | undefined) => container.ports.find((p) => p.name === probe?.httpGet.port)?.containerPort ?? probe?.httpGet.port;

    expect({
      readiness: container.readinessProbe?.httpGet.path,
      liveness: container.livenessProbe?.httpGet.path,
      ports: [portOf(container.readinessProbe), portOf(container.livenessProbe), portOf(container.startupProbe)],
    }).toEqual({ readiness: "/readyz", liveness: "/healthz", ports: [3000, 3000, 3000] });
    expect(envFile("relay.env").set.PORT).toBe("3000");
  });

  it.each(["openci-relay-web", "openci-relay-worker"])("%s: non-root, read-only, no privileges, bounded resources", (name) => {
    const deployment = deployments.find((d) => d.metadata.name === name)!;
    const { securityContext: podSecurity } = pod(deployment);
    const { securityContext, resources } = relay(deployment);

    expect(podSecurity?.runAsNonRoot).toBe(true);
    expect(podSecurity?.runAsUser).toBeGreaterThan(0);
    expect(securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(Object.keys(resources?.requests ?? {}).sort()).toEqual(["cpu", "memory"]);
    expect(Object.keys(resources?.limits ?? {}).sort()).toEqual(["cpu", "memory"]);
  });

  it.each(["openci-relay-web", "openci-relay-worker"])("%s: REDIS_URL is required (no private redis-server on a read-only file system)", (name) => {
    const redisUrl = relay(deployments.find((d) => d.metadata.name === name)!).env?.find((e) => e.name === "REDIS_URL");

    expect(redisUrl?.valueFrom?.secretKeyRef).toEqual({ name: "openci-relay", key: "REDIS_URL" });
  });

  it.each(["openci-relay-web", "openci-relay-worker"])("%s: the grace period outlasts preStop and the relay's own stop", (name) => {
    const deployment = deployments.find((d) => d.metadata.name === name)!;
    const stopGraceMs = Number(/const STOP_GRACE_MS = ([\d_]+)/.exec(read("src/relay.ts"))?.[1]?.replace(/_/g, ""));
    const preStopMs = Number(/setTimeout\([^,]+,\s*(\d+)\)/.exec(relay(deployment).lifecycle?.preStop?.exec?.command.join(" ") ?? "")?.[1] ?? 0);
    // workers (or the HTTP server), then the queues, each within STOP_GRACE_MS; then connections (0.5 s)
    const needed = (preStopMs + 2 * stopGraceMs + 500) / 1000;

    expect(stopGraceMs).toBeGreaterThan(0);
    expect(pod(deployment).terminationGracePeriodSeconds).toBeGreaterThanOrEqual(Math.ceil(needed));
  });

  it("gives the web role a drain delay before SIGTERM, so endpoints stop sending first", () => {
    expect(relay(web).lifecycle?.preStop?.exec?.command[0]).toBe("node");
    expect(relay(worker).lifecycle?.preStop).toBeUndefined();
  });

  it("selects each role's pods, and only those, in its Service, budgets and spread", () => {
    const service = applied.find((m) => m.kind === "Service")!;
    const budgets = applied.filter((m) => m.kind === "PodDisruptionBudget");
    const labels = (d: Manifest) => d.spec!.template!.metadata.labels;

    expect(service.spec!.selector).toEqual(labels(web));
    expect(service.spec!.ports).toEqual([{ name: "http", port: 80, targetPort: "http" }]);
    for (const d of deployments) {
      expect(d.spec!.selector).toEqual({ matchLabels: labels(d) });
      expect(budgets.find((b) => b.metadata.name === d.metadata.name)?.spec?.selector).toEqual({ matchLabels: labels(d) });
      expect(pod(d).topologySpreadConstraints?.map((t) => [t.topologyKey, t.labelSelector.matchLabels])).toEqual([
        ["kubernetes.io/hostname", labels(d)],
        ["topology.kubernetes.io/zone", labels(d)],
      ]);
    }
    expect(labels(web)).not.toEqual(labels(worker));
  });

  it("names only variables the relay reads, each documented in .env.example", () => {
    const relayNames = relayEnvNames();
    const used = namesUsed();

    expect(used).toEqual(expect.arrayContaining(["APP_ID", "OPENCI_ROLE", "PRIVATE_KEY", "REDIS_URL", "WEBHOOK_SECRET"]));
    expect(used.filter((n) => !relayNames.has(n))).toEqual([]);
    expect(used.filter((n) => !documentedNames.has(n))).toEqual([]);
  });

  it("takes every secret from the Secret the example shows, whose values are all placeholders", () => {
    const secret = examples.find((m) => m.kind === "Secret")!;
    const refs = deployments.flatMap((d) => relay(d).env ?? []).map((e) => e.valueFrom?.secretKeyRef).filter((r) => r !== undefined);

    expect(refs.filter((r) => r.name !== secret.metadata.name || !(r.key in (secret.stringData ?? {})))).toEqual([]);
    expect(Object.entries(secret.stringData ?? {}).filter(([, v]) => !v.includes("CHANGE-ME"))).toEqual([]);
    expect(Object.keys(secret.stringData ?? {}).sort()).toEqual(
      ["APP_ID", "GITLAB_TOKEN", "GITLAB_WEBHOOK_SECRET", "OPENCI_ADMIN_TOKEN", "PRIVATE_KEY", "REDIS_URL", "WEBHOOK_SECRET"],
    );
  });

  it("mounts the generated map where OPENCI_MAP points, and that map loads", () => {
    const mapPath = envFile("relay.env").set.OPENCI_MAP!;
    const file = generated("openci-relay-map")?.files?.[0];
    const mounts = deployments.map((d) => {
      const volume = pod(d).volumes?.find((v) => v.configMap?.name === "openci-relay-map");
      return relay(d).volumeMounts?.find((m) => m.name === volume?.name)?.mountPath;
    });

    expect(mounts.map((dir) => `${dir}/${file}`)).toEqual([mapPath, mapPath]);
    expect(deployments.map((d) => relay(d).envFrom?.[0]?.configMapRef?.name)).toEqual(["openci-relay-env", "openci-relay-env"]);
    expect(generated("openci-relay-env")?.envs).toEqual(["relay.env"]);
    expect(loadMap(join(DIR, file!)).map.size).toBeGreaterThan(0);
  });
});

describe("Dockerfile", () => {
  it("builds on node:20-bookworm-slim in two stages", () => {
    expect(dockerfile.stages.map((s) => [s.name, s.base])).toEqual([
      ["build", "node:20-bookworm-slim"],
      ["runtime", "node:20-bookworm-slim"],
    ]);
    expect(dockerfile.stages[0]!.instructions.some((i) => i.keyword === "RUN" && i.args.includes("npm run build"))).toBe(true);
  });

  it("installs production dependencies only in the final stage, and copies no node_modules", () => {
    const installs = runtimeSteps("RUN").filter((i) => /\bnpm ci\b/.test(i.args));
    const copied = runtimeSteps("COPY").map((i) => i.args);

    expect(installs).toHaveLength(1);
    expect(installs[0]!.args).toMatch(/npm ci --omit=dev\b/);
    expect(copied.filter((c) => c.includes("node_modules"))).toEqual([]);
  });

  it("copies dist/ from the build stage, and bin/, schema/ and the default map from the context", () => {
    const copies = runtimeSteps("COPY").map((i) => ({ from: i.flags.from, words: execForm(i.args) ?? i.args.split(/\s+/) }));
    const ignored = dockerignore(read(".dockerignore"));
    const sources = copies.flatMap((c) => c.words.slice(0, -1).map((source) => ({ from: c.from, source })));

    expect(sources).toEqual(expect.arrayContaining([
      { from: "build", source: "/app/dist" },
      { from: undefined, source: "bin" },
      { from: undefined, source: "schema" },
      { from: undefined, source: "openci-map.yml" },
    ]));
    expect(sources.filter((s) => s.from === undefined && ignored(s.source))).toEqual([]);
    expect([".env", "node_modules", "dist", "some/dir/app.pem"].map(ignored)).toEqual([true, true, true, true]);
  });

  it("runs node dist/index.js (not npm start and its build) as a numeric non-root user, in production mode", () => {
    const user = runtimeSteps("USER").at(-1)?.args.trim() ?? "";
    const env = Object.assign({}, ...runtimeSteps("ENV").map((i) => parseEnvArgs(i.args)));

    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    expect(execForm(runtimeSteps("CMD").at(-1)?.args ?? "")).toEqual(["node", "dist/index.js"]);
    expect(env).toMatchObject({ NODE_ENV: "production", HOST: "0.0.0.0", PORT: "3000" });
    expect(runtimeSteps("EXPOSE").map((i) => i.args)).toEqual(["3000"]);
  });

  it("checks health with node against /healthz (the slim image has no curl)", () => {
    const healthcheck = runtimeSteps("HEALTHCHECK")[0]?.args ?? "";
    const command = execForm(healthcheck.replace(/^CMD\s+/, ""));

    expect(command?.[0]).toBe("node");
    expect(command?.join(" ")).toContain("/healthz");
  });
});
