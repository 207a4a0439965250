import { z } from "zod";
import { ForgeError } from "./errors.js";
import { GerritHttp, segment, type GerritAuth, type GerritHints } from "./gerrit-http.js";
import type { Source, TagListing } from "./roles.js";

/**
 * A Gerrit server as an upstream (OpenDev, OpenDaylight, ONAP, fd.io): only a source of tags, read
 * through the REST API (Documentation/rest-api-projects.txt), anonymously or, when the map gives an
 * account, under `/a/` with basic auth. The `repo` of every call is the Gerrit project's name
 * (openstack/nova). Changes (third-party CI) come from `gerrit stream-events` (gerrit-stream.ts) and
 * results go back as review messages (gerrit-review.ts), not through this role.
 */

const SHA = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a git object id");

/** TagInfo (rest-api-projects.txt): `revision` is the commit of a lightweight tag, the tag object of an annotated one, whose `object` is what it points to. */
const TagInfo = z.object({ ref: z.string(), revision: SHA, object: SHA.optional() });
type TagInfo = z.infer<typeof TagInfo>;

/** ProjectInfo (rest-api-projects.txt): only what the relay reads. */
const ProjectInfo = z.object({ id: z.string(), name: z.string().optional(), state: z.string().optional() });

export interface GerritSourceOptions {
  /** base URL with any context path: https://review.opendev.org, https://gerrit.onap.org/r */
  url: string;
  /** an account (user_env / password_env): every read then goes under `/a/` as that account */
  auth?: GerritAuth | undefined;
  timeoutMs?: number | undefined;
  /** tags asked per request (`n`); default 200 */
  pageSize?: number | undefined;
  /** requests per listing at most; a project with more tags is listed as incomplete (default 50) */
  maxPages?: number | undefined;
}

export interface GerritTag {
  name: string;
  /** the commit: an annotated tag's `object`, a lightweight tag's `revision` */
  sha: string;
}

const TAGS = "refs/tags/";

export class GerritSource implements Source {
  private readonly http: GerritHttp;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly authenticated: boolean;

  constructor(o: GerritSourceOptions) {
    this.http = new GerritHttp({ url: o.url, auth: o.auth, timeoutMs: o.timeoutMs });
    this.pageSize = o.pageSize ?? 200;
    this.maxPages = o.maxPages ?? 50;
    this.authenticated = o.auth !== undefined;
  }

  /** The server's base URL as the relay calls it (no trailing slash). */
  get url(): string {
    return this.http.base;
  }

  /**
   * Every tag, in Gerrit's order (by ref name). Gerrit sends no ETag for this list (a project's
   * resource has none and the list view is not an ETag view), so no If-None-Match is sent and every
   * poll is a read: `notModified` is never claimed. `complete` is false only when the project has more
   * tags than `maxPages` pages, or its tags kept changing while they were paged.
   */
  async watchTags(project: string, _etag: string | undefined): Promise<TagListing> {
    const { tags, complete } = await this.readTags(project);
    return { notModified: false, tags, etag: undefined, complete };
  }

  /** Every tag (by name; Gerrit's list carries no dates), paged until a short page. */
  async listTags(project: string): Promise<GerritTag[]> {
    return (await this.readTags(project)).tags;
  }

  /** The commit the tag names now (GET …/tags/{tag}); `hintSha` (the stream's newRev: maybe a tag object) is not trusted. */
  async resolveTag(project: string, tag: string, _hintSha: string | undefined): Promise<string> {
    const info = await this.http.call({
      method: "GET", path: `/projects/${segment(project)}/tags/${segment(tag)}`, authenticated: this.authenticated, schema: TagInfo,
      what: `reading tag ${tag} of ${project}`,
      hints: (status) => status === 404 ? `no tag ${tag} in ${project} at ${this.http.base}: it was deleted after the relay heard of it (nothing is triggered), or the project name is wrong` : this.hints(project)(status, ""),
    });
    return info.object ?? info.revision;
  }

  /** Gerrit changes are not pull requests: they reach the relay from the event stream (gerrit-stream.ts). */
  async openPullRequests(): Promise<{ number: number; fork: boolean }[]> {
    return [];
  }

  /**
   * `public` when anonymous users can read the project (GET /projects/{name} without credentials
   * answers 200), else `private` when the map's account can (the same under `/a/`). Gerrit answers 404
   * for a project the caller may not see, so an anonymous 404 alone cannot tell a private project
   * from a misspelt one: without an account that is an error (the caller then counts it as private).
   */
  async visibility(project: string): Promise<"public" | "private"> {
    const path = `/projects/${segment(project)}`;
    try {
      await this.http.call({ method: "GET", path, authenticated: false, schema: ProjectInfo, what: `reading project ${project} anonymously`, hints: this.hints(project) });
      return "public";
    } catch (err) {
      const status = err instanceof ForgeError ? err.status : undefined;
      if (!this.authenticated || (status !== 404 && status !== 401 && status !== 403)) throw err;
    }
    await this.http.call({ method: "GET", path, authenticated: true, schema: ProjectInfo, what: `reading project ${project}`, hints: this.hints(project) });
    return "private";
  }

  /**
   * All pages of GET /projects/{name}/tags/?n=&S=. Each page after the first starts one tag early, and
   * that tag must be the one the last page ended with: a tag added or deleted before the boundary
   * between two reads shifts the list, which would otherwise lose a tag (and a complete listing
   * would call it deleted). A shifted listing is read again, up to three times.
   */
  private async readTags(project: string): Promise<{ tags: GerritTag[]; complete: boolean }> {
    let infos: TagInfo[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const read = await this.readPages(project);
      infos = read.infos;
      if (read.consistent) return { tags: toTags(infos), complete: read.complete };
    }
    return { tags: toTags(infos), complete: false };
  }

  private async readPages(project: string): Promise<{ infos: TagInfo[]; consistent: boolean; complete: boolean }> {
    const infos: TagInfo[] = [];
    for (let page = 0; page < this.maxPages; page++) {
      const overlap = infos.length > 0 ? 1 : 0;
      const got = await this.http.call({
        method: "GET", path: `/projects/${segment(project)}/tags/`, authenticated: this.authenticated, schema: z.array(TagInfo),
        query: [["n", String(this.pageSize + overlap)], ["S", String(infos.length - overlap)]],
        what: `reading the tags of ${project}`, hints: this.hints(project),
      });
      if (overlap) {
        if (got[0]?.ref !== infos.at(-1)!.ref) return { infos, consistent: false, complete: false };
        got.shift();
      }
      infos.push(...got);
      if (got.length < this.pageSize) return { infos, consistent: true, complete: true };
    }
    return { infos, consistent: true, complete: false };
  }

  private hints(project: string): GerritHints {
    return (status) => {
      if (status === 404) {
        return `no project ${project} at ${this.http.base} visible to ${this.authenticated ? `the account ${this.http.user}` : "anonymous users"}: check the map's project name (as Gerrit spells it, e.g. openstack/nova) and the url's context path${this.authenticated ? "" : "; a private project needs user_env / password_env"}`;
      }
      return undefined;
    };
  }
}

function toTags(infos: TagInfo[]): GerritTag[] {
  const seen = new Map<string, GerritTag>();
  for (const t of infos) {
    if (!t.ref.startsWith(TAGS)) continue;
    const name = t.ref.slice(TAGS.length);
    seen.set(name, { name, sha: t.object ?? t.revision });
  }
  return [...seen.values()];
}
