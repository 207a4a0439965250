/**
 * Every kind of system the relay talks to, by the name records, jobs and places carry. Where a
 * project lives (its source: github, gitlab, git, gerrit) and where its pipelines run (its runner:
 * the same forge, or jenkins) are both one of these. Imports nothing, so every layer may use it.
 */
export const SYSTEM_KINDS = ["github", "gitlab", "git", "gerrit", "jenkins"] as const;
export type SystemKind = (typeof SYSTEM_KINDS)[number];
