import type { Redis } from "ioredis";
import { z } from "zod";
import { GITHUB_REPO, GITLAB_PATH } from "../map/places.js";
import { locationKey, refOf, type LocationRef } from "../map/graph.js";
import { key } from "../queue/names.js";

export type Visibility = "public" | "private";

/** What a delivery said of repositories' visibility, carried in its jobs' data (`visibility`): GitHub's by default. */
export const ReportedVisibility = z.array(z.union([
  z.object({ forge: z.literal("github").optional(), repo: z.string().regex(GITHUB_REPO), visibility: z.enum(["public", "private"]), at: z.number().int().min(0).optional() }),
  z.object({ forge: z.literal("gitlab"), repo: z.string().regex(GITLAB_PATH), host: z.string().optional(), visibility: z.enum(["public", "private"]), at: z.number().int().min(0).optional() }),
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
// KEYS[1] the word; ARGV: the new word "<visibility>|<at>|<source>", its time. Older words never win.
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local at = tonumber(string.match(current, '^[^|]*|(%d+)|'))
  if at and at > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`;

export class VisibilityStore {
  constructor(private readonly redis: Redis) {}

  async get(locations: readonly LocationRef[]): Promise<(KnownVisibility | undefined)[]> {
    if (locations.length === 0) return [];
    const values = await this.redis.mget(...locations.map((l) => this.k(l)));
    return values.map(parse);
  }

  /**
   * Keeps a word on a repository's visibility unless a newer one is kept already: a retried job
   * carrying an old payload's "public" never overwrites a later "privatized".
   */
  async set(location: LocationRef, visibility: Visibility, source: string, at = Date.now()): Promise<void> {
    await this.redis.eval(SET_IF_NEWER, 1, this.k(location), `${visibility}|${at}|${source}`, at);
  }

  /** Keeps what a delivery's job carries (its `visibility` field, if any) before the job is worked on. */
  async keepReported(jobData: unknown): Promise<void> {
    const raw = (jobData as { visibility?: unknown } | null)?.visibility;
    if (raw === undefined) return;
    const parsed = ReportedVisibility.safeParse(raw);
    if (!parsed.success) return;
    // As of when the delivery arrived (a job without the time is older than anything kept).
    await Promise.all(parsed.data.map((v) =>
      this.set(refOf({ forge: v.forge ?? "github", repo: v.repo, host: "host" in v ? v.host : undefined }), v.visibility, "payload", v.at ?? 0)));
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
