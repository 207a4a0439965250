import { ForgeError } from "./errors.js";
import type { Source, TagListing } from "./roles.js";
import { listGitTags, type ListGitTagsOptions } from "../watch/git-refs.js";

/**
 * Any git host as the relay uses it: only a source of tags, read anonymously over git's smart
 * HTTP protocol (src/watch/git-refs.ts). The repository is its URL. Nothing is ever written there
 * and no pipeline runs there, so this is the only role a git host plays (src/roles/worker-role.ts).
 */
export class GitHostSource implements Source {
  constructor(private readonly opts: Pick<ListGitTagsOptions, "timeoutMs" | "maxBytes" | "userAgent"> = {}) {}

  async watchTags(url: string, etag: string | undefined): Promise<TagListing> {
    return listGitTags(url, { ...this.opts, etag });
  }

  /** Every tag, in name order (the advertisement carries no dates). */
  async listTags(url: string): Promise<{ name: string; sha: string }[]> {
    const listing = await listGitTags(url, this.opts);
    return listing.notModified ? [] : listing.tags;
  }

  /** The commit the tag names now, from the advertisement (an annotated tag peeled); `hintSha` is only the watcher's word. */
  async resolveTag(url: string, tag: string, _hintSha: string | undefined): Promise<string> {
    const found = (await this.listTags(url)).find((t) => t.name === tag);
    if (!found) throw new ForgeError(`tag ${tag} is no longer on ${url}`, "config", { hint: "the tag was deleted after the relay saw it: nothing is triggered for it" });
    return found.sha;
  }

  /** A git host has no pull requests the relay can see. */
  async openPullRequests(): Promise<{ number: number; fork: boolean }[]> {
    return [];
  }

  /** Read anonymously, so anyone can: public (the map's `visibility: private` still hides it). */
  async visibility(): Promise<"public" | "private"> {
    return "public";
  }
}
