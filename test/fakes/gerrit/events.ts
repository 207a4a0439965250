/**
 * Stream events shaped as Gerrit documents them (Documentation/cmd-stream-events.txt for each
 * event's fields, json.txt for the change, patchSet, account, approval and refUpdate attributes):
 * what the fake SSH server writes, one JSON object per line. SOURCE.md lists what is left out.
 */

export interface GerritAccount {
  name?: string;
  email?: string;
  username?: string;
}

export interface ChangeAttribute {
  project: string;
  branch: string;
  id: string;
  number: number;
  subject: string;
  owner: GerritAccount;
  url: string;
  commitMessage: string;
  createdOn: number;
  status: "NEW" | "MERGED" | "ABANDONED";
  wip?: boolean;
  private?: boolean;
}

export interface PatchSetAttribute {
  number: number;
  revision: string;
  parents: string[];
  ref: string;
  uploader: GerritAccount;
  author: GerritAccount;
  createdOn: number;
  kind: "REWORK" | "TRIVIAL_REBASE" | "MERGE_FIRST_PARENT_UPDATE" | "NO_CODE_CHANGE" | "NO_CHANGE";
  sizeInsertions: number;
  sizeDeletions: number;
}

export interface ApprovalAttribute {
  type: string;
  description: string;
  value: string;
  oldValue?: string;
  grantedOn: number;
  by: GerritAccount;
}

export type StreamEvent =
  | { type: "ref-updated"; submitter: GerritAccount; refUpdate: { oldRev: string; newRev: string; refName: string; project: string }; eventCreatedOn: number }
  | { type: "patchset-created"; change: ChangeAttribute; patchSet: PatchSetAttribute; uploader: GerritAccount; eventCreatedOn: number }
  | { type: "comment-added"; change: ChangeAttribute; patchSet: PatchSetAttribute; author: GerritAccount; approvals: ApprovalAttribute[]; comment: string; eventCreatedOn: number }
  | { type: "dropped-output" };

export const ZERO_SHA = "0".repeat(40);
export const now = (): number => Math.floor(Date.now() / 1000);

export function refUpdated(project: string, refName: string, oldRev: string, newRev: string, submitter: GerritAccount): StreamEvent {
  return { type: "ref-updated", submitter, refUpdate: { oldRev, newRev, refName, project }, eventCreatedOn: now() };
}

export function patchsetCreated(change: ChangeAttribute, patchSet: PatchSetAttribute): StreamEvent {
  return { type: "patchset-created", change, patchSet, uploader: patchSet.uploader, eventCreatedOn: now() };
}

export function commentAdded(change: ChangeAttribute, patchSet: PatchSetAttribute, author: GerritAccount, comment: string, approvals: ApprovalAttribute[] = []): StreamEvent {
  return { type: "comment-added", change, patchSet, author, approvals, comment, eventCreatedOn: now() };
}
