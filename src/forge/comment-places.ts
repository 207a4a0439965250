import { classifyHttpError } from "./errors.js";
import type { CommentIds } from "./roles.js";

/** One place a failure comment can live (a pull/merge request, or the commit), as a forge offers it. */
export interface CommentPlace {
  key: string;
  /** The comments there; `own`: written by the relay itself (its GitHub App, its GitLab user). */
  list(): Promise<{ id: string; body: string; own: boolean }[]>;
  create(body: string): Promise<string>;
  update(id: string, body: string): Promise<void>;
}

/**
 * Upserts one marked comment per place: edited in place when its text changed, found again by its
 * marker if its id was lost, created only when no editable comment there carries the marker. Only
 * the relay's own comments are looked at: the marker is predictable, and a comment someone else
 * planted with it must never become the relay's (nor be edited by it).
 */
export async function upsertMarkedComment(places: CommentPlace[], marker: string, body: string, known: CommentIds, where: string): Promise<CommentIds> {
  const ids: CommentIds = {};
  for (const place of places) {
    const knownId = known[place.key];
    try {
      const existing = knownId !== undefined
        ? { id: knownId, body: undefined }
        : (await place.list()).find((c) => c.own && c.body.includes(marker));
      if (existing === undefined || !(await updated(place, existing, body))) {
        ids[place.key] = await place.create(body);
      } else {
        ids[place.key] = existing.id;
      }
    } catch (error) {
      throw classifyHttpError(error, `writing the OpenCI comment on ${where} (${place.key})`);
    }
  }
  return ids;
}

/**
 * Edits the comment if its text changed. False when it cannot be edited: deleted since (404), or
 * not the relay's own (403: someone quoted the marker); the caller then writes a new one.
 */
async function updated(place: CommentPlace, existing: { id: string; body: string | undefined }, body: string): Promise<boolean> {
  if (existing.body === body) return true;
  try {
    await place.update(existing.id, body);
    return true;
  } catch (error) {
    const status = classifyHttpError(error, "editing the OpenCI comment").status;
    if (status === 404 || status === 403) return false;
    throw error;
  }
}
