import type { CheckConclusion } from "./run-state.js";

/**
 * Every result a Jenkins build can end with (`hudson.model.Result`'s five constants; the class is
 * final, so there are no others), mapped once: the compiler finds a missing case. An unstable build
 * (tests failed, the build itself went through) is a failure for the upstream: its tests failed.
 */
export const JENKINS_RESULTS = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED"] as const;
export type JenkinsResult = (typeof JENKINS_RESULTS)[number];

export const CONCLUSION_OF_RESULT: Record<JenkinsResult, CheckConclusion> = {
  SUCCESS: "success",
  UNSTABLE: "failure",
  FAILURE: "failure",
  ABORTED: "cancelled",
  NOT_BUILT: "skipped",
};

export const isJenkinsResult = (s: string): s is JenkinsResult => (JENKINS_RESULTS as readonly string[]).includes(s);

/** The relay's run id for a Jenkins build: its queue item's id, known from the trigger's answer to the build's end. */
export const jenkinsRunId = (queueId: number): string => `queue:${queueId}`;

/** The queue id in a run id `queue:<N>`; undefined for anything else. */
export function queueIdOf(runId: string): number | undefined {
  const m = /^queue:([1-9]\d{0,15})$/.exec(runId);
  return m ? Number(m[1]) : undefined;
}

/**
 * A job's full name (`folder/name`) as its URL path below Jenkins' root: `/job/folder/job/name`,
 * each name percent-encoded. Throws on an empty name, `.` or `..` (they would name another URL).
 */
export function jobPathOf(job: string): string {
  const names = job.split("/");
  if (names.some((n) => n === "" || n === "." || n === "..")) throw new Error(`'${job}' is not a Jenkins job's full name (folder/name)`);
  return names.map((n) => `/job/${encodeURIComponent(n)}`).join("");
}

/**
 * The job's full name from a URL path Jenkins writes for it or one of its builds: `job/folder/job/name/`
 * (an Item's url) or `job/folder/job/name/18/` (a Run's); with `number`, the build number where the
 * path has one. Undefined when the path is not that shape.
 */
export function jobOfUrlPath(path: string): { job: string; number: number | undefined } | undefined {
  const parts = path.replace(/^\/+|\/+$/g, "").split("/");
  const number = parts.length % 2 === 1 && /^\d+$/.test(parts.at(-1)!) ? Number(parts.pop()) : undefined;
  if (parts.length < 2 || parts.length % 2 !== 0) return undefined;
  const names: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    if (parts[i] !== "job" || parts[i + 1] === "") return undefined;
    try {
      names.push(decodeURIComponent(parts[i + 1]!));
    } catch {
      return undefined;
    }
  }
  if (names.some((n) => n === "." || n === ".." || n.includes("/"))) return undefined;
  return { job: names.join("/"), number };
}
