/** Where the CLI finds the running relay: --url, else OPENCI_URL, else http://127.0.0.1:$PORT (3000). */
export function relayBase(url: string | undefined, env: NodeJS.ProcessEnv): string {
  return (url ?? env.OPENCI_URL ?? `http://127.0.0.1:${env.PORT || 3000}`).replace(/\/+$/, "");
}

/** fetch, with a message saying where the relay was expected when it cannot be reached. */
export async function callRelay(command: string, base: string, path: string, init: RequestInit = {}): Promise<Response | string> {
  try {
    return await fetch(`${base}${path}`, init);
  } catch (error) {
    return `openci-relay ${command}: cannot reach the relay at ${base} (${(error as Error).cause ?? (error as Error).message}). Set OPENCI_URL or --url.\n`;
  }
}
