import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

/**
 * Checks a request against GitHub's own OpenAPI description (@octokit/openapi,
 * generated/api.github.com.json): the route must exist, path and query parameters and the JSON body
 * must satisfy their schemas. A fake GitHub that answers only what the spec allows keeps the relay honest.
 */
const require = createRequire(import.meta.url);
const SPEC_FILE = require.resolve("@octokit/openapi/generated/api.github.com.json");

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: object;
  $ref?: string;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: object }> };
}
interface Route {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  literals: number;
  operation: Operation;
}

export interface MatchedRequest {
  operationId: string;
  template: string;
  params: Record<string, string>;
}

export class OpenApiValidator {
  private readonly spec: { paths: Record<string, Record<string, Operation>>; components: { parameters: Record<string, Parameter> } };
  private readonly routes: Route[] = [];
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.spec = JSON.parse(readFileSync(SPEC_FILE, "utf8"));
    this.ajv = new Ajv({ strict: false, allErrors: true, logger: false, coerceTypes: false });
    (addFormatsModule as unknown as { default: (a: Ajv) => void }).default?.(this.ajv) ??
      (addFormatsModule as unknown as (a: Ajv) => void)(this.ajv);
    this.ajv.addSchema(this.spec, "spec");
    for (const [template, methods] of Object.entries(this.spec.paths)) {
      const names: string[] = [];
      const segments = template.split("/").map((seg) => {
        const m = /^\{(.+)\}$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
        names.push(m[1]!);
        return "([^/]+)";
      });
      const regex = new RegExp(`^${segments.join("/")}$`);
      const literals = template.split("/").filter((s) => s && !s.startsWith("{")).length;
      for (const [method, operation] of Object.entries(methods)) {
        if (typeof operation !== "object" || !("operationId" in operation)) continue;
        this.routes.push({ method: method.toUpperCase(), template, regex, names, literals, operation });
      }
    }
    this.routes.sort((a, b) => b.literals - a.literals);
  }

  /** Returns the matched operation, or a list of problems that make the request invalid. */
  validate(method: string, rawPath: string, query: URLSearchParams, body: unknown): { match?: MatchedRequest; problems: string[] } {
    const route = this.routes.find((r) => r.method === method && r.regex.test(rawPath));
    if (!route) return { problems: [`${method} ${rawPath} is not a route in GitHub's OpenAPI description`] };
    const values = route.regex.exec(rawPath)!.slice(1).map((v) => decodeURIComponent(v));
    const params = Object.fromEntries(route.names.map((n, i) => [n, values[i]!]));
    const problems: string[] = [];
    const declared = (route.operation.parameters ?? []).map((p) => this.resolveParameter(p));

    for (const p of declared) {
      const raw = p.in === "path" ? params[p.name] : p.in === "query" ? query.get(p.name) ?? undefined : undefined;
      if (p.in !== "path" && p.in !== "query") continue;
      if (raw === undefined) {
        if (p.required) problems.push(`${p.in} parameter '${p.name}' is required`);
        continue;
      }
      const value = coerce(raw, p.schema);
      const check = this.compile(`param:${route.operation.operationId}:${p.name}`, p.schema ?? {});
      if (!check(value)) problems.push(`${p.in} parameter '${p.name}'=${JSON.stringify(raw)}: ${this.ajv.errorsText(check.errors)}`);
    }
    for (const name of new Set(query.keys())) {
      if (!declared.some((p) => p.in === "query" && p.name === name)) problems.push(`query parameter '${name}' is not in the spec`);
    }

    const content = route.operation.requestBody?.content?.["application/json"];
    if (content?.schema) {
      if (body === undefined) {
        if (route.operation.requestBody?.required) problems.push("a JSON body is required");
      } else {
        const pointer = `spec#/paths/${escape(route.template)}/${method.toLowerCase()}/requestBody/content/application~1json/schema`;
        const check = this.compile(pointer, { $ref: pointer });
        if (!check(body)) problems.push(`body: ${this.ajv.errorsText(check.errors, { dataVar: "body" })}`);
      }
    } else if (body !== undefined && method !== "GET") {
      problems.push("a body was sent but the operation takes none");
    }
    return { match: { operationId: route.operation.operationId, template: route.template, params }, problems };
  }

  private resolveParameter(p: Parameter): Parameter {
    if (!p.$ref) return p;
    const name = p.$ref.replace("#/components/parameters/", "");
    const resolved = this.spec.components.parameters[name];
    if (!resolved) throw new Error(`unresolvable parameter ${p.$ref}`);
    return resolved;
  }

  private compile(cacheKey: string, schema: object): ValidateFunction {
    let fn = this.compiled.get(cacheKey);
    if (!fn) {
      fn = this.ajv.compile("$ref" in schema ? schema : { ...schema, $id: undefined });
      this.compiled.set(cacheKey, fn);
    }
    return fn;
  }
}

function escape(template: string): string {
  return template.replace(/~/g, "~0").replace(/\//g, "~1").replace(/\{/g, "%7B").replace(/\}/g, "%7D");
}

function coerce(raw: string, schema: object | undefined): unknown {
  const type = (schema as { type?: string } | undefined)?.type;
  if ((type === "integer" || type === "number") && raw.trim() !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}
