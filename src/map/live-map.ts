import type { DependencyMap, MapOptions } from "./graph.js";
import { MapError, parseMapFiles, type DeclarationText, type LoadedMap } from "./load.js";

export interface MapText {
  file: string;
  text: string;
}

/**
 * The map the relay uses now. Its sources (the local files of OPENCI_MAP, the files of the
 * metadata repository, downstreams' own declarations) are merged and validated together; a
 * version that fails is never taken, so the last good map stays active.
 */
/** The last good files of the metadata repository, shared by every relay process through Redis (map-store.ts). */
export interface StoredMap {
  sha: string;
  files: MapText[];
}

/** What every process merges with its local files: the repository's last good files and the declarations. */
export interface MapSources {
  version: string;
  repo: StoredMap | undefined;
  declarations: DeclarationText[];
}

export class LiveMap {
  private current: DependencyMap;
  private sourcesVersion: string | undefined;

  constructor(initial: DependencyMap, private readonly local: MapText[], private readonly options: MapOptions) {
    this.current = initial;
  }

  get(): DependencyMap {
    return this.current;
  }

  /** The version of the stored sources the active map was built from, if any. */
  get version(): string | undefined {
    return this.sourcesVersion;
  }

  /** Merges the local files with a repository's and the declarations; throws MapError naming every problem. */
  build(repoFiles: MapText[], declarations: DeclarationText[] = []): LoadedMap {
    return parseMapFiles([...this.local, ...repoFiles], "the merged map", this.options, declarations);
  }

  /** Builds from stored sources and uses the result; undefined (and the map unchanged) when they do not merge. */
  adopt(sources: MapSources): LoadedMap | undefined {
    try {
      const loaded = this.build(sources.repo?.files ?? [], sources.declarations);
      this.current = loaded.map;
      this.sourcesVersion = sources.version;
      return loaded;
    } catch (error) {
      if (error instanceof MapError) return undefined;
      throw error;
    }
  }
}
