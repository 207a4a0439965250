import picomatch from "picomatch";

const cache = new Map<string, (tag: string) => boolean>();

/** True when `tag` matches the edge's glob ("v*", "release/**", "{v1,v2}.*"). Dots are ordinary characters. */
export function matchTag(pattern: string, tag: string): boolean {
  let matcher = cache.get(pattern);
  if (matcher === undefined) {
    matcher = picomatch(pattern, { dot: true });
    cache.set(pattern, matcher);
  }
  return matcher(tag);
}
