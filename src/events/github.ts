import { z } from "zod";
import { GITHUB_REPO } from "../map/places.js";
import { parsePayload } from "./parse-payload.js";
import type { TagEvent } from "./tag-event.js";

const ZERO_SHA = /^0{40}$/;
/** Git forbids most of these in ref names; a payload carrying them is not a real tag. */
const TAG_NAME = z.string().min(1).max(255).regex(/^[^\s~^:?*[\\]+$/, "is not a valid git tag name");

const Repository = z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name") });
const Installation = z.object({ id: z.number().int().positive() }).optional();

/** Only the fields the relay reads ("specify only necessary fields"). */
const CreatePayload = z.object({ ref: TAG_NAME, ref_type: z.string(), repository: Repository, installation: Installation });
const PushPayload = z.object({
  ref: z.string().max(300),
  after: z.string().regex(/^[0-9a-f]{40}$/),
  deleted: z.boolean().optional(),
  repository: Repository,
  installation: Installation,
});
const ReleasePayload = z.object({
  release: z.object({ tag_name: TAG_NAME, draft: z.boolean().optional() }),
  repository: Repository,
  installation: Installation,
});

export interface Delivery {
  id: string;
  name: string;
  payload: unknown;
}

/**
 * GitHub delivers one tag push as `create` (ref_type tag) and `push` (refs/tags/…), maybe followed by
 * `release.published`. Each becomes the same TagEvent; anything else (branches, deletions) is null.
 */
export function normaliseGithubTag(delivery: Delivery, now: Date = new Date()): TagEvent | null {
  const base = { forge: "github" as const, deliveryId: delivery.id, receivedAt: now.toISOString() };
  switch (delivery.name) {
    case "create": {
      const p = parsePayload(CreatePayload, delivery.payload, delivery.name);
      if (p.ref_type !== "tag") return null;
      return { ...base, repo: p.repository.full_name, tag: p.ref, source: "create", installationId: p.installation?.id };
    }
    case "push": {
      const p = parsePayload(PushPayload, delivery.payload, delivery.name);
      if (!p.ref.startsWith("refs/tags/") || p.deleted === true || ZERO_SHA.test(p.after)) return null;
      const tag = parsePayload(TAG_NAME, p.ref.slice("refs/tags/".length), "push.ref");
      return { ...base, repo: p.repository.full_name, tag, sha: p.after, source: "push", installationId: p.installation?.id };
    }
    case "release": {
      const p = parsePayload(ReleasePayload, delivery.payload, delivery.name);
      if (p.release.draft === true) return null;
      return { ...base, repo: p.repository.full_name, tag: p.release.tag_name, source: "release", installationId: p.installation?.id };
    }
    default:
      return null;
  }
}

/** A push to a branch (not a deletion): the metadata repository's map files may have changed. */
export function normaliseBranchPush(delivery: Delivery): { repo: string; branch: string; sha: string } | null {
  if (delivery.name !== "push") return null;
  const p = parsePayload(PushPayload, delivery.payload, "push");
  if (!p.ref.startsWith("refs/heads/") || p.deleted === true || ZERO_SHA.test(p.after)) return null;
  return { repo: p.repository.full_name, branch: p.ref.slice("refs/heads/".length), sha: p.after };
}

const Repositories = z.array(z.object({ full_name: z.string().regex(GITHUB_REPO, "is not an owner/repo name") })).max(10_000);
const InstallPayload = z.object({ installation: z.object({ id: z.number().int().positive() }), repositories: Repositories.optional(), repositories_added: Repositories.optional() });
const DeclarationPush = z.object({
  ref: z.string().max(300),
  after: z.string().regex(/^[0-9a-f]{40}$/),
  repository: z.object({ full_name: z.string().regex(GITHUB_REPO), default_branch: z.string().optional() }),
  commits: z.array(z.object({ added: z.array(z.string()).optional(), modified: z.array(z.string()).optional(), removed: z.array(z.string()).optional() })).optional(),
  installation: Installation,
});

/**
 * Where a downstream's own declaration may have appeared or changed: the app installed on
 * repositories (`installation.created`, `installation_repositories.added`), or a push to the
 * default branch touching `path`.
 */
export function normaliseDeclarationSources(delivery: Delivery, path: string): { repo: string; sha?: string; installationId?: number }[] {
  switch (delivery.name) {
    case "installation":
    case "installation_repositories": {
      const p = parsePayload(InstallPayload, delivery.payload, delivery.name);
      return (p.repositories ?? p.repositories_added ?? []).map((r) => ({ repo: r.full_name, installationId: p.installation.id }));
    }
    case "push": {
      // A tag push (every release) is never a default branch's: not parsed a second time, with its commit lists, for nothing.
      const ref = (delivery.payload as { ref?: unknown } | null)?.ref;
      if (typeof ref === "string" && !ref.startsWith("refs/heads/")) return [];
      const p = parsePayload(DeclarationPush, delivery.payload, "push");
      const branch = p.repository.default_branch;
      if (branch === undefined || p.ref !== `refs/heads/${branch}` || ZERO_SHA.test(p.after)) return [];
      const touched = (p.commits ?? []).some((c) => [...(c.added ?? []), ...(c.modified ?? []), ...(c.removed ?? [])].includes(path));
      return touched ? [{ repo: p.repository.full_name, sha: p.after, ...(p.installation ? { installationId: p.installation.id } : {}) }] : [];
    }
    default:
      return [];
  }
}
