/**
 * What the history and the public surfaces ask about projects' visibility (issue 15). The worker
 * decides, before anything is written, whether a record is private; the web role, when reading,
 * leaves out what is known to be private now (a repository turned private since).
 */
export interface Privacy {
  /**
   * Worker side, before a record about these projects is written or published: true when any of
   * them is private, or its visibility is not known and cannot be learnt (unknown counts as
   * private). May ask the forge; answers are cached in Redis.
   */
  anyPrivate(projectIds: readonly string[]): Promise<boolean>;
}

export interface PublicFilter {
  /**
   * Web side, when reading: the ids among these that must not appear on a public surface now (the
   * map says `visibility: private`, or the forge said private last). Never asks a forge.
   */
  hidden(projectIds: readonly string[]): Promise<Set<string>>;
}

/** Everything public: for tools and tests that hold no private project. */
export const ALL_PUBLIC: Privacy & PublicFilter = {
  anyPrivate: async () => false,
  hidden: async () => new Set(),
};
