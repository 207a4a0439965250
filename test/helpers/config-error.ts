import { ConfigError, parseEnv } from "../../src/config/env.js";

/** The message parseEnv refuses `env` with; fails the test if it is accepted or fails otherwise. */
export function configError(env: Record<string, string>): string {
  try {
    parseEnv(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  throw new Error("accepted");
}
