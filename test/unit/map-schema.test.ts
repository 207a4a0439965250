import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { mapJsonSchemaText } from "../../src/map/json-schema.js";

const committed = readFileSync(new URL("../../schema/openci-map.schema.json", import.meta.url), "utf8");
const fixture = (name: string) => parse(readFileSync(new URL(`../../fixtures/maps/${name}`, import.meta.url), "utf8"));

describe("schema/openci-map.schema.json", () => {
  it("is what the map schema generates (run `npm run schema` after changing src/map/schema.ts)", () => {
    expect(committed).toBe(mapJsonSchemaText());
  });

  it("accepts the shipped maps and rejects what the relay rejects, for editors", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const validate = ajv.compile(JSON.parse(committed));

    expect(validate(fixture("v1-example.yml"))).toBe(true);
    expect(validate(fixture("cross-community.yml"))).toBe(true);
    expect(validate({ version: 2, projects: [{ id: "x", foundation: "f", github: "o/x", depends_on: [{ project: "y", on: ["push"] }] }] })).toBe(false);
    expect(validate({ projects: [{ id: "x", github: "o/x", foundation: "f" }] })).toBe(false); // a v2 key in a v1 map
    expect(validate({ version: 2, projects: [{ id: "x", foundation: "f", gitlab: "group/../admin" }] })).toBe(false);
  });
});
