/** Types of scripts/dockerfile.mjs, for the tests that read the Dockerfile through it. */
export interface Instruction {
  /** upper case: FROM, RUN, COPY, … */
  keyword: string;
  /** where it starts, 1-based */
  line: number;
  /** leading `--name=value` flags, e.g. { from: "build" } or { mount: "type=cache,…" } */
  flags: Record<string, string>;
  /** the rest, continuation lines joined with a space */
  args: string;
}

export interface Stage {
  name: string | undefined;
  /** the base image, with global ARG defaults substituted */
  base: string;
  line: number;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Record<string, string | undefined>;
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile;
export function execForm(args: string): string[] | undefined;
export function parseEnvArgs(args: string): Record<string, string>;
export function stageNamed(dockerfile: Dockerfile, ref: string): Stage | undefined;
/** Whether .dockerignore (its text) leaves a build-context path out. */
export function dockerignore(text: string): (path: string) => boolean;
