import type { DependencyMap, MapOptions } from "./graph.js";
import { parseMapFiles, type LoadedMap } from "./load.js";

export interface MapText {
  file: string;
  text: string;
}

/**
 * The map the relay uses now. Its sources (the local files of OPENCI_MAP, the files of the
 * metadata repository) are merged and validated together; a version that fails is never taken,
 * so the last good map stays active.
 */
export class LiveMap {
  private current: DependencyMap;
  private repoVersion: string | undefined;

  constructor(initial: DependencyMap, private readonly local: MapText[], private readonly options: MapOptions) {
    this.current = initial;
  }

  get(): DependencyMap {
    return this.current;
  }

  /** The metadata repository commit the active map was read from, if any. */
  get version(): string | undefined {
    return this.repoVersion;
  }

  /** Merges the local files with a repository's; throws MapError naming every problem. */
  build(repoFiles: MapText[]): LoadedMap {
    return parseMapFiles([...this.local, ...repoFiles], "the merged map", this.options);
  }

  use(map: DependencyMap, version: string | undefined): void {
    this.current = map;
    this.repoVersion = version;
  }
}
