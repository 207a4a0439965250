import { z } from "zod";

/** Links people will follow from the dashboard and the checks: http(s) only (never `javascript:`). */
export const WebUrl = z.url({ protocol: /^https?$/, error: "is not an http(s) URL" });

/** Times are only shown: one that is not RFC 3339 is left out rather than failing the event later. */
export const Timestamp = z.iso.datetime({ offset: true }).optional().catch(undefined);
