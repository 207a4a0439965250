import { CloudEvent, HTTP } from "cloudevents";
import type { CDEvent } from "./cdevent.js";

/**
 * A CDEvent in its CloudEvents envelope, as CDEvents' CloudEvents binding says: ce-id, ce-source,
 * ce-type, ce-subject and ce-time from the CDEvent's context and subject; the data is the whole CDEvent.
 */
export function toCloudEvent(event: CDEvent): CloudEvent<CDEvent> {
  return new CloudEvent<CDEvent>({
    specversion: "1.0",
    id: event.context.id,
    source: event.context.source,
    type: event.context.type,
    subject: event.subject.id,
    time: event.context.timestamp,
    datacontenttype: "application/json",
    data: event,
  });
}

/** HTTP binary mode: ce-* headers, the CDEvent JSON as the body (what sinks receive). */
export function binaryMessage(event: CDEvent): { headers: Record<string, string>; body: string } {
  const message = HTTP.binary(toCloudEvent(event));
  return { headers: message.headers as Record<string, string>, body: String(message.body) };
}

/** Structured mode: the whole CloudEvent as one JSON text (what the event stream sends). */
export function structuredJson(event: CDEvent): string {
  return String(HTTP.structured(toCloudEvent(event)).body);
}
