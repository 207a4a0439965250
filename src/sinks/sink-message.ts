import { toCDEvent } from "../history/cdevent.js";
import { binaryMessage, structuredJson } from "../history/cloudevent.js";
import type { HistoryRecord } from "../history/record.js";
import type { DependencyMap } from "../map/graph.js";
import { shortType } from "./sink-spec.js";
import type { SinkMessage } from "./transport.js";

/** The project an event is about, for topics: the upstream for its release, the downstream for everything its runs do. */
export function aboutProject(record: HistoryRecord): string {
  return record.kind === "release" ? record.project : record.downstream;
}

/**
 * One record as the broker transports send it: the CDEvent, its CloudEvents attributes (the ones
 * HTTP subscribers get as `ce-*` headers), both encodings, and the names topic templates use (the
 * project's foundation from the live map; `_` when it has none or is no longer in the map).
 */
export function sinkMessage(cid: string, record: HistoryRecord, eventSource: string, map: DependencyMap): SinkMessage {
  const event = toCDEvent(cid, record, eventSource);
  const { headers, body } = binaryMessage(event);
  const attributes = Object.fromEntries(Object.entries(headers).flatMap(([name, value]) =>
    name.startsWith("ce-") ? [[name.slice(3), value]] : name.toLowerCase() === "content-type" ? [["datacontenttype", value]] : []));
  const project = aboutProject(record);
  return {
    cid, event, attributes, body, structured: structuredJson(event),
    names: { foundation: map.project(project)?.meta?.foundation ?? "_", project, event: shortType(event.context.type) },
  };
}
