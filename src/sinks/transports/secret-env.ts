import { UnrecoverableError } from "bullmq";
import { z } from "zod";
import { isRelayOwnVariable } from "../../map/secret-names.js";

/**
 * What the broker and chat transports share about secrets: a subscriber only ever names the
 * variable holding one (`*_env`), an error names that variable and never its value, and a url is
 * shown without the credentials someone may have written into it.
 */

/** The shape of a variable's name in a `*_env` option. */
export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** A broker's `*_env` option (MQTT, AMQP): a variable's name, never one of the relay's own. */
export const brokerEnvName = (what: string, example: string) =>
  z.string()
    .regex(ENV_NAME, `must name an environment variable (capital letters, digits and '_'), e.g. ${example}`)
    .refine((name) => !isRelayOwnVariable(name), {
      error: (issue) => `${String(issue.input)} is the relay's own configuration and is never sent to a broker: put the ${what} in a variable of its own, e.g. ${example}`,
    });

/** The value of the variable `name`, or undefined when it is unset or empty. */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

/**
 * The value of the variable `name`; unset or empty, an UnrecoverableError saying `unset` (which
 * names the variable, never a value): only a person can set it, so the sinks queue dead-letters the
 * event at once instead of spending its attempts.
 */
export function requiredEnv(env: NodeJS.ProcessEnv, name: string, unset: string): string {
  const value = envValue(env, name);
  if (value === undefined) throw new UnrecoverableError(unset);
  return value;
}

/**
 * The user name and password from the variables a broker subscriber names (MQTT, AMQP): a named one
 * that is not set is an UnrecoverableError naming it. Which of the two a broker needs is its own rule.
 */
export function brokerLogin(sink: { username_env?: string | undefined; password_env?: string | undefined }, env: NodeJS.ProcessEnv, where: string): { username?: string; password?: string } {
  const read = (option: "username_env" | "password_env") => {
    const name = sink[option];
    return name === undefined
      ? undefined
      : requiredEnv(env, name, `${where}: ${option} names ${name}, which is not set in the relay's environment: set ${name}, or remove ${option}`);
  };
  const username = read("username_env");
  const password = read("password_env");
  return { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

/** The url as it may be shown: never a user name or password, even one written into it by mistake. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.href;
  } catch {
    return "an unreadable url";
  }
}
