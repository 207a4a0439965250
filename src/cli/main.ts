import { parseArgs } from "node:util";
import { GRAPH_FORMATS, type GraphFormat } from "../map/render-graph.js";
import { explainCommand, graphCommand, schemaCommand, validateCommand } from "./map-commands.js";
import { rerunCommand } from "./rerun.js";
import { exportCommand, verifyCommand } from "./history.js";
import { sinksCommand } from "./sinks.js";
import { watchCommand } from "./watch.js";
import { gitlabHooksCommand } from "./gitlab-hooks.js";

const HELP = `openci-relay: the OpenCI Relay command line

Usage:
  openci-relay validate FILE|DIR
      Checks a dependency map (a file, or every .yml/.yaml below a folder): schema, ids,
      references, cycles, cascade hop limit. Prints every problem as FILE:LINE:COL: message,
      and warnings (orphaned projects, empty foundations).
  openci-relay graph FILE|DIR [--format mermaid|dot|json] [--from PROJECT] [--depth N]
      Draws the map (default mermaid), or what a release of PROJECT reaches: its dependants up
      to N hops, and its direct upstreams.
  openci-relay explain FILE|DIR PROJECT TAG [--event tag|release]
      Which dependants a tag (or release) of PROJECT would trigger and why, which would not
      and why, and what would cascade from them.
  openci-relay schema
      Prints the map's JSON Schema (the same as schema/openci-map.schema.json).
  openci-relay rerun --upstream PROJECT --sha COMMIT [--downstream PROJECT] [--url URL]
      Runs downstreams of an upstream commit again through a running relay
      (POST /api/v1/reruns). With --downstream, that one; without, every failed one.
      A GitLab downstream pipeline is retried in place; a GitHub one is dispatched anew.
  openci-relay export [--since DATE] [--output FILE] [--url URL] [--private [--token-env NAME]] > history.car
      The running relay's public history (every public record since DATE, default all) as a CAR
      file that IPFS tools import (ipfs dag import history.car). With --private, every record,
      public and private: the read token is read from OPENCI_READ_TOKEN (or the variable NAME),
      never from the command line. A long history, which the relay serves in parts, is joined
      into one file with the same root (records wait in a temporary file meanwhile). A summary
      goes to stderr.
  openci-relay verify FILE.car
      Recomputes the CID of every block of an export and checks the export's manifest: exit 0
      when intact, 1 when a block was changed or is missing.
  openci-relay sinks [--url URL]
      Each CDEvents subscriber: deliveries, pending, failed attempts and dead letters.
  openci-relay sinks redrive [--sink ID] [--cid CID] [--url URL]
      Queues dead letters again (all, one subscriber's, or one record's), attempts reset.

  openci-relay watch [--json] [--url URL]
      The upstreams the relay watches (git hosts, map entries with 'watch:'): last and next
      poll, last new tag, the share of polls answered 304 (free of rate limits), last error.

  openci-relay gitlab-hooks --project GROUP/PROJECT [--url URL] [--reset-token]
      Creates the project's webhook to the relay (tag push, pipeline and job events, its secret
      token), or brings an existing one up to date; a second run changes nothing and says so.
      Needs GITLAB_TOKEN (or the map entry's token_env) with the Maintainer role, and
      GITLAB_WEBHOOK_SECRET (or the entry's webhook_secret_env). --url defaults to OPENCI_PUBLIC_URL.

Environment (rerun, export, sinks, watch):
  OPENCI_URL          the relay's address (default http://127.0.0.1:$PORT, PORT default 3000)
  OPENCI_ADMIN_TOKEN  the relay's admin token (the same value the relay runs with; not needed by export)
  OPENCI_READ_TOKEN   the relay's read token, for export --private (the admin token works too)

Exit codes: 0 done (validate: the map is valid), 1 the map is invalid, a project is unknown,
or the relay refused or could not be reached, or (verify) the export was changed, 2 wrong usage.
`;

type Io = { out: (s: string) => void; err: (s: string) => void };

/** Runs the CLI; returns the exit code. Output goes to `out`, errors to `err`. */
export async function main(
  argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void, err: (s: string) => void,
  /** binary output (export to stdout) */
  writeBytes: (b: Uint8Array) => Promise<void> = async (b) => out(Buffer.from(b).toString("latin1")),
): Promise<number> {
  const io: Io = { out, err };
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    out(HELP);
    return command === undefined ? 2 : 0;
  }
  const usage = (message: string) => {
    err(`openci-relay ${command}: ${message}. Run 'openci-relay --help'.\n`);
    return 2;
  };
  try {
    switch (command) {
      case "validate": {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true });
        return positionals.length === 1 ? validateCommand(positionals[0]!, io) : usage("give one FILE or DIR");
      }
      case "graph": {
        const { positionals, values } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: { format: { type: "string", default: "mermaid" }, from: { type: "string" }, depth: { type: "string" } },
        });
        if (positionals.length !== 1) return usage("give one FILE or DIR");
        if (!GRAPH_FORMATS.includes(values.format as GraphFormat)) return usage(`--format must be one of ${GRAPH_FORMATS.join(", ")}`);
        const depth = values.depth === undefined ? undefined : Number(values.depth);
        if (depth !== undefined && !(Number.isInteger(depth) && depth >= 0)) return usage("--depth must be a whole number");
        return graphCommand(positionals[0]!, { format: values.format as GraphFormat, from: values.from, depth }, io);
      }
      case "explain": {
        const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { event: { type: "string", default: "tag" } } });
        if (positionals.length !== 3) return usage("give FILE|DIR PROJECT TAG");
        if (values.event !== "tag" && values.event !== "release") return usage("--event must be tag or release");
        return explainCommand(positionals[0]!, positionals[1]!, positionals[2]!, values.event, io);
      }
      case "schema":
        return schemaCommand(io);
      case "rerun": {
        const { values } = parseArgs({
          args: rest,
          options: { upstream: { type: "string" }, sha: { type: "string" }, downstream: { type: "string" }, url: { type: "string" } },
          strict: true,
        });
        return await rerunCommand(values, env, out, err);
      }
      case "export": {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: {
            since: { type: "string" }, output: { type: "string", short: "o" }, url: { type: "string" },
            private: { type: "boolean" }, "token-env": { type: "string" },
          },
        });
        if (positionals.length > 0) return usage("takes no FILE: use --output FILE, or redirect stdout");
        return await exportCommand(values, env, writeBytes, err);
      }
      case "verify": {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true });
        return positionals.length === 1 ? await verifyCommand(positionals[0]!, out, err) : usage("give one FILE.car");
      }
      case "sinks": {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: { sink: { type: "string" }, cid: { type: "string" }, url: { type: "string" } },
        });
        if (positionals.length > 1) return usage("give at most one action: redrive");
        return await sinksCommand(positionals[0], values, env, out, err);
      }
      case "watch": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { json: { type: "boolean" }, url: { type: "string" } } });
        if (positionals.length > 0) return usage("takes no arguments, only --json and --url");
        return await watchCommand(values, env, out, err);
      }
      case "gitlab-hooks": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { project: { type: "string" }, url: { type: "string" }, "reset-token": { type: "boolean" } } });
        if (positionals.length > 0) return usage("takes no arguments, only --project, --url and --reset-token");
        return await gitlabHooksCommand(values, env, { out, err });
      }
      default:
        err(`openci-relay: unknown command '${command}'. Run 'openci-relay --help'.\n`);
        return 2;
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return usage((error as Error).message);
    throw error;
  }
}
