import {
  buildClientSchema, execute, getNamedType, getOperationAST, GraphQLError, GraphQLInt, isInterfaceType, isObjectType, parse, validate, valueFromAST,
  type DocumentNode, type FragmentDefinitionNode, type GraphQLNamedType, type GraphQLResolveInfo, type GraphQLSchema, type IntrospectionQuery,
  type OperationDefinitionNode, type SelectionSetNode,
} from "graphql";
import type { FakeRepo } from "./fake-github.js";

/**
 * The fake GitHub's GraphQL endpoint (`POST /api/graphql`, where GitHub Enterprise Server has it and
 * where Octokit sends a `…/api/v3` client's `graphql()`). Every query is checked against GitHub's
 * published schema (@octokit/graphql-schema) and GitHub's own limits (`first`/`last` on every
 * connection, 1-100, at most 500,000 nodes), is charged GitHub's points, and is executed by graphql-js
 * over the fake's repositories. Only what the relay reads is modelled: `repository { refs(refPrefix:
 * "refs/tags/") }`, the git objects a ref names, and `rateLimit`; any other field asked for is a problem.
 * Where each rule comes from: SOURCE.md beside this file.
 */

/** GitHub's node limit and the range of `first`/`last` ("Rate limits and query limits for the GraphQL API"). */
const MAX_NODES = 500_000;
const MAX_PAGE = 100;
const WINDOW_MS = 3600_000;

export interface GraphqlQuery {
  installationId: number;
  /** the points GitHub's formula charges it */
  cost: number;
  /** `owner/name` of every `repository(...)` it asked for, in order */
  repositories: string[];
  /** why it was refused, if it was */
  refused?: string;
}

type Answer = [number, unknown, Record<string, string>];
interface ErrorJson { type?: string; path?: readonly (string | number)[]; locations?: readonly { line: number; column: number }[]; message: string }

/** What GitHub answers a repository the token cannot see: null, and an error of type NOT_FOUND. */
class NotFound extends Error {}

let schemaOnce: Promise<GraphQLSchema> | undefined;
/** GitHub's schema, built once per process (the introspection JSON; its SDL twin does not pass graphql-js's SDL checks, see SOURCE.md). */
export function githubSchema(): Promise<GraphQLSchema> {
  schemaOnce ??= import("@octokit/graphql-schema").then((m) => buildClientSchema(m.schema.json as unknown as IntrospectionQuery));
  return schemaOnce;
}

export class FakeGraphql {
  /** Points an installation may spend in an hour (GitHub: 5,000 for an installation outside Enterprise Cloud). */
  limit = 5000;
  readonly queries: GraphqlQuery[] = [];
  private readonly windows = new Map<number, { used: number; resetAt: number }>();

  constructor(private readonly repos: Record<string, FakeRepo>, private readonly problems: string[]) {}

  /** Points `installationId` has spent in its current hour. */
  spent(installationId: number): number {
    return this.window(installationId).used;
  }

  async answer(body: unknown, installationId: number): Promise<Answer> {
    const schema = await githubSchema();
    const record: GraphqlQuery = { installationId, cost: 0, repositories: [] };
    this.queries.push(record);
    const refuse = (why: string, errors: ErrorJson[]): Answer => {
      record.refused = why;
      this.problems.push(`POST /graphql: ${why}`);
      // A request error (parse, validation): GitHub answers 200 with `errors` and no `data` (the GraphQL spec: nothing was executed).
      return [200, { errors }, this.headers(installationId)];
    };

    const request = body as { query?: unknown; variables?: unknown; operationName?: unknown } | undefined;
    const extra = Object.keys(request ?? {}).filter((k) => !["query", "variables", "operationName"].includes(k));
    if (typeof request?.query !== "string") return refuse("the body has no `query` string", [{ message: "A query attribute must be specified and must be a string." }]);
    if (extra.length > 0) return refuse(`the body has keys a GraphQL request does not have: ${extra.join(", ")}`, [{ message: `Unknown keys: ${extra.join(", ")}` }]);
    const variables = (request.variables ?? {}) as Record<string, unknown>;
    if (typeof variables !== "object" || Array.isArray(variables)) return refuse("`variables` is not an object", [{ message: "Variables are invalid JSON." }]);
    const operationName = typeof request.operationName === "string" ? request.operationName : undefined;

    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      const e = error as GraphQLError;
      return refuse(`the query does not parse: ${e.message}`, [{ message: e.message, locations: e.locations }]);
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) {
      return refuse(`the query does not validate against GitHub's schema: ${invalid.map((e) => e.message).join("; ")}`, invalid.map((e) => ({ message: e.message, locations: e.locations })));
    }
    const operation = getOperationAST(document, operationName);
    if (!operation) return refuse("no single operation to run (name it with operationName)", [{ message: "An operation name is required" }]);
    if (operation.operation !== "query") return refuse(`the fake answers queries only, not a ${operation.operation}`, [{ message: `The fake GitHub does not run a ${operation.operation}` }]);

    const measured = measure(schema, document, operation, variables);
    if (measured.errors.length > 0) return refuse(measured.errors.map((e) => e.message).join("; "), measured.errors);
    record.cost = measured.cost;

    const window = this.window(installationId);
    if (this.limit - window.used < measured.cost) {
      record.refused = "rate limited";
      // GitHub's primary limit: still 200, an error, and x-ratelimit-remaining 0 ("Exceeding the rate limit").
      return [200, { errors: [{ type: "RATE_LIMITED", message: `API rate limit exceeded for installation ID ${installationId}.` }] }, this.headers(installationId)];
    }
    window.used += measured.cost;

    const rootValue = {
      repository: ({ owner, name }: { owner: string; name: string }) => {
        const full = `${owner}/${name}`;
        record.repositories.push(full);
        const repo = this.repos[full];
        if (!repo || !readable(repo, installationId)) throw new NotFound(`Could not resolve to a Repository with the name '${full}'.`);
        return this.repository(full, repo);
      },
      rateLimit: () => ({
        cost: measured.cost, limit: this.limit, nodeCount: measured.nodes, used: window.used,
        remaining: Math.max(0, this.limit - window.used), resetAt: new Date(window.resetAt).toISOString(),
      }),
    };
    const result = await execute({ schema, document, operationName, rootValue, variableValues: variables, fieldResolver: this.strictResolver });
    const errors = (result.errors ?? []).map((e): ErrorJson => {
      if (e.originalError instanceof NotFound) return { type: "NOT_FOUND", path: e.path, locations: e.locations, message: e.message };
      this.problems.push(`the fake's GraphQL answer: ${e.message}${e.path ? ` (at ${e.path.join(".")})` : ""}`);
      return { path: e.path, locations: e.locations, message: e.message };
    });
    if (result.data === undefined) record.refused = errors.map((e) => e.message).join("; ");
    return [200, { ...(result.data !== undefined ? { data: result.data } : {}), ...(errors.length > 0 ? { errors } : {}) }, this.headers(installationId)];
  }

  /** A field is answered from the object's own property (a function is called with the arguments); one the fake does not model is a problem, not a silent null. */
  private readonly strictResolver = (source: Record<string, unknown>, args: Record<string, unknown>, _context: unknown, info: GraphQLResolveInfo): unknown => {
    const value = source?.[info.fieldName];
    if (value === undefined) {
      this.problems.push(`the fake's GraphQL answer has no value for ${info.parentType.name}.${info.fieldName}: model it in test/fakes/github/graphql.ts`);
      return null;
    }
    return typeof value === "function" ? (value as (a: Record<string, unknown>) => unknown)(args) : value;
  };

  private repository(full: string, repo: FakeRepo) {
    return {
      __typename: "Repository", id: nodeId("R", full), name: full.split("/")[1], nameWithOwner: full, isPrivate: repo.private === true,
      refs: (args: RefsArgs) => this.refs(full, repo, args),
    };
  }

  /**
   * `refs` over the repository's tags. TAG_COMMIT_DATE orders by the date of the commit a tag finally
   * names (`commitDates`); tags whose commit has no date come after the dated ones, by name.
   */
  private refs(full: string, repo: FakeRepo, args: RefsArgs) {
    if (args.refPrefix !== "refs/tags/") this.problems.push(`the fake's GraphQL refs models refs/tags/ only, not ${JSON.stringify(args.refPrefix)}`);
    const field = args.orderBy?.field ?? "ALPHABETICAL";
    const direction = args.orderBy?.direction ?? args.direction ?? "ASC";
    const dateOf = (name: string) => repo.commitDates?.[peel(repo, repo.tags![name]!)];
    const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0) * (direction === "DESC" ? -1 : 1);
    const names = args.refPrefix === "refs/tags/" ? Object.keys(repo.tags ?? {}).filter((n) => args.query == null || n.includes(args.query)) : [];
    names.sort((a, b) => {
      if (field !== "TAG_COMMIT_DATE") return byName(a, b);
      const [da, db] = [dateOf(a), dateOf(b)];
      if (da === undefined || db === undefined) return da !== undefined ? -1 : db !== undefined ? 1 : byName(a, b);
      return da === db ? byName(a, b) : (Date.parse(da) - Date.parse(db)) * (direction === "DESC" ? -1 : 1);
    });
    let start = args.after != null ? cursorIndex(args.after) + 1 : 0;
    let end = args.before != null ? cursorIndex(args.before) : names.length;
    if (args.first != null) end = Math.min(end, start + args.first);
    if (args.last != null) start = Math.max(start, end - args.last);
    const page = names.slice(start, end);
    const node = (name: string) => ({ __typename: "Ref", id: nodeId("REF", `${full}:${name}`), name, prefix: "refs/tags/", target: this.object(repo, repo.tags![name]!) });
    return {
      __typename: "RefConnection", totalCount: names.length, nodes: page.map(node),
      edges: page.map((name, i) => ({ __typename: "RefEdge", cursor: cursorOf(start + i), node: node(name) })),
      pageInfo: {
        __typename: "PageInfo", hasNextPage: end < names.length, hasPreviousPage: start > 0,
        startCursor: page.length > 0 ? cursorOf(start) : null, endCursor: page.length > 0 ? cursorOf(end - 1) : null,
      },
    };
  }

  /** A git object as the GitObject interface answers it: a Tag's `target` is the object its tagObjects entry names. */
  private object(repo: FakeRepo, o: { type: "commit" | "tag"; sha: string }): Record<string, unknown> {
    const common = { id: nodeId(o.type === "tag" ? "TAG" : "C", o.sha), oid: o.sha, abbreviatedOid: o.sha.slice(0, 7) };
    if (o.type === "commit") return { __typename: "Commit", ...common, ...(repo.commitDates?.[o.sha] ? { committedDate: repo.commitDates[o.sha] } : {}) };
    const inner = repo.tagObjects?.[o.sha];
    return { __typename: "Tag", ...common, target: inner ? () => this.object(repo, inner) : null };
  }

  private window(installationId: number): { used: number; resetAt: number } {
    let w = this.windows.get(installationId);
    if (!w || w.resetAt <= Date.now()) this.windows.set(installationId, (w = { used: 0, resetAt: Date.now() + WINDOW_MS }));
    return w;
  }

  /** GitHub's rate-limit headers, which it sends with every GraphQL answer. */
  private headers(installationId: number): Record<string, string> {
    const w = this.window(installationId);
    return {
      "x-ratelimit-limit": String(this.limit), "x-ratelimit-remaining": String(Math.max(0, this.limit - w.used)), "x-ratelimit-used": String(w.used),
      "x-ratelimit-reset": String(Math.ceil(w.resetAt / 1000)), "x-ratelimit-resource": "graphql",
    };
  }
}

interface RefsArgs {
  refPrefix: string;
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  query?: string | null;
  direction?: "ASC" | "DESC" | null;
  orderBy?: { field: "ALPHABETICAL" | "TAG_COMMIT_DATE"; direction: "ASC" | "DESC" } | null;
}

/** GitHub lets any installation token read a public repository; a private one only where the token's installation covers it. */
function readable(repo: FakeRepo, installationId: number): boolean {
  return repo.private !== true || (repo.installed !== false && repo.installationId === installationId);
}

/** The commit a tag finally names (the sha itself where the chain ends in something the fake does not know). */
function peel(repo: FakeRepo, o: { type: "commit" | "tag"; sha: string }): string {
  for (let at = o, depth = 0; depth < 10; depth++) {
    if (at.type !== "tag" || !repo.tagObjects?.[at.sha]) return at.sha;
    at = repo.tagObjects[at.sha]!;
  }
  return o.sha;
}

const nodeId = (kind: string, key: string) => `${kind}_${Buffer.from(key).toString("base64url")}`;
const cursorOf = (index: number) => Buffer.from(`cursor:${index}`).toString("base64");
const cursorIndex = (cursor: string) => Number(Buffer.from(cursor, "base64").toString().replace(/^cursor:/, ""));

/**
 * GitHub's checks beyond the schema, and the points a query costs ("Rate limits and query limits for
 * the GraphQL API"): every connection needs `first` or `last` within 1-100; the nodes a query may
 * return (each connection's limit times those of the connections around it) stay under 500,000; the
 * cost is the requests needed to fill each connection (1 for one under no other connection, else the
 * product of the limits around it), divided by 100 and rounded, at least 1.
 */
function measure(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === "FragmentDefinition") fragments.set(d.name.value, d);
  const errors: ErrorJson[] = [];
  let requests = 0;
  let nodes = 0;
  const walk = (set: SelectionSetNode | undefined, type: GraphQLNamedType | null | undefined, multiplier: number): void => {
    if (!set || !type) return;
    for (const s of set.selections) {
      if (s.kind === "InlineFragment") walk(s.selectionSet, s.typeCondition ? schema.getType(s.typeCondition.name.value) : type, multiplier);
      else if (s.kind === "FragmentSpread") {
        const f = fragments.get(s.name.value);
        if (f) walk(f.selectionSet, schema.getType(f.typeCondition.name.value), multiplier);
      } else if (!s.name.value.startsWith("__") && (isObjectType(type) || isInterfaceType(type))) {
        const def = type.getFields()[s.name.value];
        if (!def) continue;
        const fieldType = getNamedType(def.type);
        if (!fieldType.name.endsWith("Connection")) {
          walk(s.selectionSet, fieldType, multiplier);
          continue;
        }
        const arg = (name: string) => {
          const node = s.arguments?.find((a) => a.name.value === name);
          return node ? (valueFromAST(node.value, GraphQLInt, variables) as number | null | undefined) : undefined;
        };
        const [first, last] = [arg("first"), arg("last")];
        const limit = first ?? last;
        const at = { path: [s.alias?.value ?? s.name.value], locations: s.loc ? [{ line: s.loc.startToken.line, column: s.loc.startToken.column }] : undefined };
        if (limit == null) {
          errors.push({ type: "MISSING_PAGINATION_BOUNDARIES", ...at, message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${s.name.value}\` connection.` });
          continue;
        }
        if (limit < 1 || limit > MAX_PAGE) {
          errors.push({ type: "EXCESSIVE_PAGINATION", ...at, message: `Requesting ${limit} records on the \`${s.name.value}\` connection is outside the \`${first != null ? "first" : "last"}\` range of 1-${MAX_PAGE} records.` });
          continue;
        }
        requests += multiplier;
        nodes += multiplier * limit;
        walk(s.selectionSet, fieldType, multiplier * limit);
      }
    }
  };
  const root = operation.operation === "query" ? schema.getQueryType() : operation.operation === "mutation" ? schema.getMutationType() : schema.getSubscriptionType();
  walk(operation.selectionSet, root, 1);
  if (nodes > MAX_NODES) errors.push({ type: "MAX_NODE_LIMIT_EXCEEDED", message: `This query requests up to ${nodes} nodes which exceeds the maximum limit of ${MAX_NODES}.` });
  return { errors, nodes, cost: Math.max(1, Math.round(requests / 100)) };
}

