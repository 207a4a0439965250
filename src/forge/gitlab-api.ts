import { Gitlab } from "@gitbeaker/rest";
import { relayRequesterFn } from "./gitlab-requester.js";

/**
 * The GitLab client library (@gitbeaker/rest and its requester): imported by gitlab.ts when a
 * GitLab call is first made (loadGitlabApi), so a relay whose map names no GitLab project never
 * loads it.
 */

export type Api = InstanceType<typeof Gitlab<false>>;

/** A client of `host` answering through the relay's requester (one answer, status and headers kept). */
export function newClient(host: string, token: string | undefined): Api {
  return token ? new Gitlab({ host, token, requesterFn: relayRequesterFn }) : new Gitlab({ host, requesterFn: relayRequesterFn });
}

export { postJson } from "./gitlab-requester.js";
