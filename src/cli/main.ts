import { parseArgs } from "node:util";
import { rerunCommand } from "./rerun.js";

const HELP = `openci-relay: the OpenCI Relay command line

Usage:
  openci-relay rerun --upstream PROJECT --sha COMMIT [--downstream PROJECT] [--url URL]
      Runs downstreams of an upstream commit again through a running relay
      (POST /api/v1/reruns). With --downstream, that one; without, every failed one.
      A GitLab downstream pipeline is retried in place; a GitHub one is dispatched anew.

Environment:
  OPENCI_URL          the relay's address (default http://127.0.0.1:$PORT, PORT default 3000)
  OPENCI_ADMIN_TOKEN  the relay's admin token (the same value the relay runs with)

Exit codes: 0 done, 1 the relay refused or could not be reached, 2 wrong usage.
`;

/** Runs the CLI; returns the exit code. Output goes to `out`, errors to `err`. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    out(HELP);
    return command === undefined ? 2 : 0;
  }
  try {
    switch (command) {
      case "rerun": {
        const { values } = parseArgs({
          args: rest,
          options: { upstream: { type: "string" }, sha: { type: "string" }, downstream: { type: "string" }, url: { type: "string" }, help: { type: "boolean", short: "h" } },
          strict: true,
        });
        if (values.help) {
          out(HELP);
          return 0;
        }
        return await rerunCommand(values, env, out, err);
      }
      default:
        err(`openci-relay: unknown command '${command}'. Run 'openci-relay --help'.\n`);
        return 2;
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      err(`openci-relay ${command}: ${(error as Error).message}. Run 'openci-relay --help'.\n`);
      return 2;
    }
    throw error;
  }
}
