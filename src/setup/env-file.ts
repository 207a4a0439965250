import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { parseEnv as parseDotenv } from "node:util";

/**
 * Adds variables to a .env file without ever changing a value already there. An empty assignment
 * (`APP_ID=`, as in a copy of .env.example) holds no value and is filled in place; anything else
 * is kept as the person wrote it. The file is made readable by its owner only (0600): it holds
 * the app's key. Values are written double-quoted with newlines as \n, which
 * process.loadEnvFile reads back as newlines.
 */
export function addToEnvFile(path: string, values: Record<string, string>): { written: string[]; kept: string[] } {
  let text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const present = parseDotenv(text);
  const written: string[] = [];
  const kept: string[] = [];
  const appended: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (present[key] !== undefined && present[key] !== "") {
      kept.push(key);
      continue;
    }
    written.push(key);
    const line = `${key}=${quote(value)}`;
    const empty = new RegExp(`^[ \\t]*(?:export[ \\t]+)?${key}[ \\t]*=[ \\t]*(?:""|'')?[ \\t]*$`, "m");
    if (present[key] === "" && empty.test(text)) text = text.replace(empty, () => line);
    else appended.push(line);
  }
  if (appended.length > 0) {
    const separator = text === "" || text.endsWith("\n") ? "" : "\n";
    text = `${text}${separator}# Written by the relay's setup page on ${new Date().toISOString()}\n${appended.join("\n")}\n`;
  }
  if (written.length > 0) writeFileSync(path, text, { mode: 0o600 });
  if (existsSync(path)) chmodSync(path, 0o600);
  return { written, kept };
}

function quote(value: string): string {
  if (/["\\]/.test(value)) throw new Error("a value with a quote or a backslash cannot be written to .env safely");
  return `"${value.replace(/\r?\n/g, "\\n")}"`;
}
