/**
 * A set of (upstream, downstream) pairs of ids: the set of `${upstream}\u0000${downstream}` strings
 * it replaces, without a string per edge (a map has 100,000 edges). Ids without a NUL are kept by
 * downstream, then upstream; a pair with a NUL in an id (a quoted "\0" in YAML) is kept as that
 * joined string, so two such pairs that joined to the same string are still the same pair.
 */
export class PairSet {
  private readonly byDownstream = new Map<string, Set<string>>();
  private readonly joined = new Set<string>();
  private lastDownstream: string | undefined;
  private lastUpstreams: Set<string> | undefined;

  has(upstream: string, downstream: string): boolean {
    if (upstream.includes("\u0000") || downstream.includes("\u0000")) return this.joined.has(`${upstream}\u0000${downstream}`);
    return (downstream === this.lastDownstream ? this.lastUpstreams : this.byDownstream.get(downstream))?.has(upstream) ?? false;
  }

  /** Adds the pair; false when it was there already. */
  add(upstream: string, downstream: string): boolean {
    if (upstream.includes("\u0000") || downstream.includes("\u0000")) {
      const pair = `${upstream}\u0000${downstream}`;
      if (this.joined.has(pair)) return false;
      this.joined.add(pair);
      return true;
    }
    // a project's edges come one after another: its set is looked up once
    let upstreams = downstream === this.lastDownstream ? this.lastUpstreams : this.byDownstream.get(downstream);
    if (upstreams === undefined) this.byDownstream.set(downstream, (upstreams = new Set()));
    this.lastDownstream = downstream;
    this.lastUpstreams = upstreams;
    if (upstreams.has(upstream)) return false;
    upstreams.add(upstream);
    return true;
  }
}
