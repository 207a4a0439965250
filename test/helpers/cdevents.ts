import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/** CDEvents v0.5.1's own JSON schemas (test/schemas/cdevents, copied from the spec; see SOURCE.md there). */
const DIR = new URL("../schemas/cdevents/schemas/", import.meta.url).pathname;

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
const byType = new Map<string, string>();
for (const file of walk(DIR)) {
  const schema = JSON.parse(readFileSync(file, "utf8"));
  ajv.addSchema(schema);
  const type = schema.properties?.context?.properties?.type?.enum?.[0];
  if (type) byType.set(type, schema.$id);
}
const CUSTOM = "https://cdevents.dev/0.5.1/schema/custom";

/** Problems of an event against the schema of its type (custom `dev.cdeventsx` types: the custom schema); [] when valid. */
export function cdeventProblems(event: any): string[] {
  const type: string = event?.context?.type ?? "";
  const id = type.startsWith("dev.cdeventsx.") ? CUSTOM : byType.get(type);
  if (!id) return [`no CDEvents schema for type '${type}'`];
  const validate = ajv.getSchema(id)!;
  return validate(event) ? [] : (validate.errors ?? []).map((e) => `${type} ${e.instancePath || "/"} ${e.message}`);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith(".json") ? [join(dir, d.name)] : []));
}
