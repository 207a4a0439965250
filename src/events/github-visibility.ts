import { z } from "zod";
import { GITHUB_REPO } from "../map/places.js";
import type { Delivery } from "./github.js";
import type { Visibility } from "../trust/visibility-store.js";

const Repo = z.object({
  full_name: z.string().regex(GITHUB_REPO),
  private: z.boolean(),
  visibility: z.string().optional(),
});
const Payload = z.object({
  action: z.string().optional(),
  repository: Repo.optional(),
  /** installation events list the repositories they cover, each with its `private` flag */
  repositories: z.array(Repo).max(10_000).optional(),
  repositories_added: z.array(Repo).max(10_000).optional(),
});

/** GitHub's word on a repository: public only when `private` is false and `visibility` (newer; internal is not public) agrees. */
export function githubVisibilityOf(repo: { private?: unknown; visibility?: unknown }): Visibility {
  return repo.private === false && (repo.visibility === undefined || repo.visibility === "public") ? "public" : "private";
}

/**
 * What a delivery says about repositories' visibility: every payload's `repository.private` (and
 * `visibility`, where GitHub sends it: `internal` is not public), installation events' repository
 * lists, and `repository.privatized` / `publicized`, whose action is the truth (GitHub's examples
 * show a privatized repository whose `visibility` still says public). Fields it cannot read: nothing.
 */
export function normaliseGithubVisibility(delivery: Delivery): { repo: string; visibility: Visibility; source: "payload" | "event" }[] {
  const p = Payload.safeParse(delivery.payload);
  if (!p.success) return [];
  if (delivery.name === "repository" && p.data.repository && (p.data.action === "privatized" || p.data.action === "publicized")) {
    return [{ repo: p.data.repository.full_name, visibility: p.data.action === "privatized" ? "private" : "public", source: "event" }];
  }
  const repos = [...(p.data.repository ? [p.data.repository] : []), ...(p.data.repositories ?? []), ...(p.data.repositories_added ?? [])];
  return repos.map((r) => ({
    repo: r.full_name, source: "payload" as const,
    visibility: githubVisibilityOf(r),
  }));
}
