import type { z } from "zod";

/** A webhook payload the relay will not act on: logged with what was wrong, nothing enqueued. */
export class PayloadError extends Error {
  override name = "PayloadError";
}

/** Parses the fields the relay reads, or throws a PayloadError naming every bad field. */
export function parsePayload<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ");
  throw new PayloadError(`${what} payload rejected: ${issues}`);
}
