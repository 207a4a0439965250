import type { Redis } from "ioredis";
import { z } from "zod";
import { GITHUB_REPO, GITLAB_PATH } from "../map/places.js";
import { locationKey, type LocationRef } from "../map/graph.js";
import { key } from "../queue/names.js";

export type Visibility = "public" | "private";

/** What a delivery said of repositories' visibility, carried in its jobs' data (`visibility`): GitHub's by default. */
export const ReportedVisibility = z.array(z.union([
  z.object({ forge: z.literal("github").optional(), repo: z.string().regex(GITHUB_REPO), visibility: z.enum(["public", "private"]) }),
  z.object({ forge: z.literal("gitlab"), repo: z.string().regex(GITLAB_PATH), host: z.string().optional(), visibility: z.enum(["public", "private"]) }),
])).max(10_000);
export type ReportedVisibility = z.infer<typeof ReportedVisibility>;

/** What the relay last learnt of a repository's visibility, and from where. */
export interface KnownVisibility {
  visibility: Visibility;
  /** epoch milliseconds */
  at: number;
  /** "payload" (a webhook delivery), "event" (privatized/publicized), "forge" (asked) */
  source: string;
}

/**
 * The forge's word on each repository's visibility, kept in Redis without expiry (how fresh it is
 * is the reader's decision): written by the web role from every delivery that carries it and by
 * GitHub's `repository.privatized`/`publicized`, and by workers that asked the forge.
 */
export class VisibilityStore {
  constructor(private readonly redis: Redis) {}

  async get(locations: readonly LocationRef[]): Promise<(KnownVisibility | undefined)[]> {
    if (locations.length === 0) return [];
    const values = await this.redis.mget(...locations.map((l) => this.k(l)));
    return values.map(parse);
  }

  async set(location: LocationRef, visibility: Visibility, source: string, at = Date.now()): Promise<void> {
    await this.redis.set(this.k(location), `${visibility}|${at}|${source}`);
  }

  /** Keeps what a delivery's job carries (its `visibility` field, if any) before the job is worked on. */
  async keepReported(jobData: unknown): Promise<void> {
    const raw = (jobData as { visibility?: unknown } | null)?.visibility;
    if (raw === undefined) return;
    const parsed = ReportedVisibility.safeParse(raw);
    if (!parsed.success) return;
    const at = Date.now();
    await Promise.all(parsed.data.map((v) =>
      this.set(v.forge === "gitlab" ? { forge: "gitlab", project: v.repo, host: v.host } : { forge: "github", repo: v.repo }, v.visibility, "payload", at)));
  }

  private k(location: LocationRef): string {
    return key("visibility", locationKey(location));
  }
}

function parse(value: string | null): KnownVisibility | undefined {
  if (!value) return undefined;
  const [visibility, at, source] = value.split("|");
  if (visibility !== "public" && visibility !== "private") return undefined;
  return { visibility, at: Number(at) || 0, source: source ?? "" };
}
