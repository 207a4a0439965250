/** A metadata repository holding map files: `[github:|gitlab:]owner/repo@ref:folder/`. */
export interface MapRepoSpec {
  forge: "github" | "gitlab";
  repo: string;
  /** the branch (or tag) whose head is read */
  ref: string;
  /** the folder (or single file) inside it; "" for the whole repository */
  dir: string;
}

/** Parses OPENCI_MAP_REPO (already checked by the env schema). */
export function parseMapRepo(text: string): MapRepoSpec {
  const m = /^(?:(github|gitlab):)?([^@\s]+)@([^:\s]+):(.*)$/.exec(text)!;
  return { forge: (m[1] as "github" | "gitlab" | undefined) ?? "github", repo: m[2]!, ref: m[3]!, dir: m[4]!.replace(/^\/+|\/+$/g, "") };
}

export const describeMapRepo = (s: MapRepoSpec) => `${s.forge}:${s.repo}@${s.ref}:${s.dir || "/"}`;
