import { Writable } from "node:stream";
import { describe, expect, it } from "@jest/globals";
import { createLogger, logFormatFor } from "../../src/log.js";

function capture() {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) }) };
}

describe("log format", () => {
  it("writes JSON for machines and one readable line for a person, secrets redacted either way", () => {
    const json = capture();
    const pretty = capture();

    createLogger("info", json.stream, "json").info({ repo: "o/r", token: "ghs_secret" }, "tag relayed");
    createLogger("info", pretty.stream, "pretty").info({ repo: "o/r", token: "ghs_secret" }, "tag relayed");

    expect(JSON.parse(json.lines[0]!)).toMatchObject({ level: 30, msg: "tag relayed", repo: "o/r", token: "[redacted]" });
    expect(pretty.lines.join("")).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: tag relayed\n {4}repo: "o\/r"\n {4}token: "\[redacted\]"\n$/);
    expect(pretty.lines.join("")).not.toContain("ghs_secret");
    expect([logFormatFor(undefined, true), logFormatFor(undefined, false), logFormatFor(undefined, undefined), logFormatFor("json", true), logFormatFor("pretty", false)])
      .toEqual(["pretty", "json", "json", "json", "pretty"]);
  });
});
