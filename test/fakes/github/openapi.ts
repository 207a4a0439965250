import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

/**
 * Checks requests and answers against GitHub's own OpenAPI description (@octokit/openapi,
 * generated/api.github.com.json): the route must exist, path and query parameters and the JSON body
 * must satisfy their schemas, and what the fake answers must satisfy the schema of the status it sends.
 *
 * GitHub's schemas seldom say `additionalProperties: false`, so as published they accept a misspelt
 * `detials_url`. Both directions are checked against a strict copy instead: every object schema that
 * lists `properties` accepts only those (see `strict`). A key the description does not list is a
 * violation, whether the relay sends it or the fake answers it.
 */
const require = createRequire(import.meta.url);
const SPEC_FILE = require.resolve("@octokit/openapi/generated/api.github.com.json");

type Schema = Record<string, any>;
interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: object;
  $ref?: string;
}
interface Response {
  $ref?: string;
  content?: Record<string, { schema?: Schema }>;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, Response>;
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

const COMPOSITIONS = ["allOf", "anyOf", "oneOf"] as const;

export class OpenApiValidator {
  private readonly spec: { paths: Record<string, Record<string, Operation>>; components: Record<string, Record<string, any>> };
  private readonly routes: Route[] = [];
  private readonly byOperation = new Map<string, Route>();
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
        const route = { method: method.toUpperCase(), template, regex, names, literals, operation };
        this.routes.push(route);
        this.byOperation.set(operation.operationId, route);
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
      const check = this.compile(`param:${route.operation.operationId}:${p.name}`, () => p.schema ?? {});
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
        const check = this.compile(`body:${route.operation.operationId}`, () => this.strict(content.schema!));
        if (!check(body)) problems.push(...explain("body", check.errors));
      }
    } else if (body !== undefined && method !== "GET") {
      problems.push("a body was sent but the operation takes none");
    }
    return { match: { operationId: route.operation.operationId, template: route.template, params }, problems };
  }

  /**
   * Problems with an answer to `operationId`: a success status the operation does not list, a body
   * where it documents none (or none where it documents one), a body off its (strict) schema. An error
   * status the operation does not list must still have the shape of GitHub's errors (`basic-error`).
   */
  validateResponse(operationId: string, status: number, body: unknown): string[] {
    const route = this.byOperation.get(operationId);
    if (!route) return [`${operationId} is not an operation in GitHub's OpenAPI description`];
    const listed = route.operation.responses?.[String(status)] ?? route.operation.responses?.default;
    const what = `answer ${status} to ${operationId}`;
    if (!listed && status < 400) return [`${what}: ${status} is not a status the description lists for it`];
    const response = listed ? this.resolveResponse(listed) : { content: { "application/json": { schema: { $ref: "#/components/schemas/basic-error" } } } };
    const schema = response.content?.["application/json"]?.schema;
    if (!schema) return body === undefined ? [] : [`${what}: the description documents no body for it, the fake sent one`];
    if (body === undefined) return [`${what}: the description documents a JSON body, the fake sent none`];
    const check = this.compile(`response:${operationId}:${listed ? status : "error"}`, () => this.strict(schema));
    return check(body) ? [] : explain(what, check.errors);
  }

  /**
   * A copy of `schema` with its `$ref`s inlined, where every object schema that lists `properties`
   * (and says nothing about `additionalProperties`) accepts only the names it lists. Under
   * `allOf`/`anyOf`/`oneOf` the branches stay open and their parent accepts the names any branch (or
   * the parent) lists, so composition means what it did. A schema met again inside itself is left as
   * the published `$ref`, open.
   */
  private strict(schema: Schema, inBranch = false, seen: string[] = []): Schema {
    if (typeof schema !== "object" || schema === null) return schema;
    if (typeof schema.$ref === "string") {
      if (seen.includes(schema.$ref)) return { $ref: `spec${schema.$ref}` };
      return this.strict(this.pointer(schema.$ref), inBranch, [...seen, schema.$ref]);
    }
    const out: Schema = { ...schema };
    if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, Schema>).map(([k, v]) => [k, this.strict(v, false, seen)]));
    if (schema.items) out.items = this.strict(schema.items, false, seen);
    if (typeof schema.additionalProperties === "object") out.additionalProperties = this.strict(schema.additionalProperties, false, seen);
    for (const c of COMPOSITIONS) if (Array.isArray(schema[c])) out[c] = (schema[c] as Schema[]).map((b) => this.strict(b, true, seen));
    if (!inBranch && schema.additionalProperties === undefined && schema.patternProperties === undefined) {
      const names = listedNames(out);
      if (names !== undefined && names.length > 0) {
        if (COMPOSITIONS.some((c) => out[c])) out.propertyNames = { enum: names };
        else out.additionalProperties = false;
      }
    }
    // OpenAPI 3.0's `nullable` admits null even where an `enum` does not list it; Ajv wants it listed.
    if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    // OpenAPI 3.0 lets `nullable` stand beside a composition without `type`; JSON Schema says it with a branch.
    if (out.nullable === true && out.type === undefined) {
      const { nullable: _, ...rest } = out;
      return { anyOf: [rest, { type: "null" }] };
    }
    return out;
  }

  private pointer(ref: string): Schema {
    let node: any = this.spec;
    for (const part of ref.replace(/^#\//, "").split("/")) node = node?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    if (node === undefined) throw new Error(`unresolvable ${ref}`);
    return node as Schema;
  }

  private resolveResponse(r: Response): Response {
    return r.$ref ? (this.pointer(r.$ref) as Response) : r;
  }

  private resolveParameter(p: Parameter): Parameter {
    if (!p.$ref) return p;
    const name = p.$ref.replace("#/components/parameters/", "");
    const resolved = this.spec.components.parameters?.[name] as Parameter | undefined;
    if (!resolved) throw new Error(`unresolvable parameter ${p.$ref}`);
    return resolved;
  }

  private compile(cacheKey: string, schema: () => object): ValidateFunction {
    let fn = this.compiled.get(cacheKey);
    if (!fn) {
      const s = schema();
      fn = this.ajv.compile("$id" in s ? { ...s, $id: undefined } : s);
      this.compiled.set(cacheKey, fn);
    }
    return fn;
  }
}

/**
 * The property names an object schema and its composition branches list, or undefined when one of
 * them accepts any name (a free-form object, a map, or `additionalProperties: true` outside a branch:
 * a branch's `true` only says the branch itself does not close the object).
 */
function listedNames(schema: Schema, inBranch = false): string[] | undefined {
  const extra = schema.additionalProperties;
  if (extra !== undefined && extra !== false && !(inBranch && extra === true)) return undefined;
  if (schema.patternProperties !== undefined) return undefined;
  const names = new Set<string>(Object.keys(schema.properties ?? {}));
  const branches = COMPOSITIONS.flatMap((c) => (Array.isArray(schema[c]) ? (schema[c] as Schema[]) : []));
  if (schema.type === "object" && !schema.properties && branches.length === 0) return undefined;
  for (const b of branches) {
    if (b.$ref) return undefined;
    if (b.type !== undefined && b.type !== "object") continue;
    const inner = listedNames(b, true);
    if (inner === undefined) return undefined;
    inner.forEach((n) => names.add(n));
  }
  return [...names];
}

/** Ajv's errors as sentences, naming the key a closed object refused. */
function explain(what: string, errors: ErrorObject[] | null | undefined): string[] {
  const out = new Set<string>();
  for (const e of errors ?? []) {
    const at = `${what}${e.instancePath}`;
    if (e.keyword === "additionalProperties") out.add(`${at}: '${(e.params as { additionalProperty: string }).additionalProperty}' is not a property the description lists`);
    else if (e.keyword === "propertyNames") out.add(`${at}: '${(e.params as { propertyName: string }).propertyName}' is not a property the description lists`);
    else if (e.schemaPath.includes("/propertyNames/")) continue;
    else out.add(`${at} ${e.message ?? e.keyword}${e.keyword === "enum" ? ` ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : ""}`);
  }
  return [...out];
}

function coerce(raw: string, schema: object | undefined): unknown {
  const type = (schema as { type?: string } | undefined)?.type;
  if ((type === "integer" || type === "number") && raw.trim() !== "" && !Number.isNaN(Number(raw))) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  return raw;
}
