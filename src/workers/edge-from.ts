/** What says which edges a trigger runs by: its tagging upstream, its downstream, and a cascade's chain. */
export interface Chained {
  upstream: { projectId: string };
  downstreamId: string;
  chain?: { path: string[] } | undefined;
}

/** The upstream end of the edge a trigger runs by: in a cascade, the project before it in the chain, not the tagging upstream. */
export function edgeFrom(data: Chained): string {
  return data.chain ? data.chain.path[data.chain.path.length - 2]! : data.upstream.projectId;
}

/** Every edge from the tagging upstream to this trigger's downstream: one, or a cascade's chain. */
export function edgesOf(data: Chained): { upstream: string; downstream: string }[] {
  const path = data.chain?.path ?? [data.upstream.projectId, data.downstreamId];
  return path.slice(1).map((downstream, i) => ({ upstream: path[i]!, downstream }));
}
