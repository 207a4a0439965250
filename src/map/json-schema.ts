import { z } from "zod";
import { AnyMap } from "./schema.js";

/**
 * The JSON Schema of map files, generated from the same zod schemas the relay validates with, so
 * editors complete and check what the relay accepts (schema/openci-map.schema.json, `npm run schema`).
 */
export function mapJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(AnyMap, { target: "draft-2020-12", io: "input", unrepresentable: "any" }),
    title: "OpenCI Relay dependency map (format v1 or v2)",
  };
}

export const mapJsonSchemaText = () => `${JSON.stringify(mapJsonSchema(), null, 2)}\n`;
