/** The job options of a push to the forge (a check, a view) that waits for its state to settle. */
export interface SettleOptions {
  delay?: number;
  deduplication?: { id: string; keepLastIfActive: true };
}

/**
 * A push's job options for a settle time: delayed by it, and one waiting push per check (or view)
 * at a time. The push writes the latest recorded state when it runs, so a state recorded while one
 * waits joins it; one recorded while it runs leaves exactly one more after it (BullMQ
 * deduplication, keepLastIfActive). No settle time: no delay and no joining (each its own job).
 */
export function settling(settleMs: number | undefined): (id: string) => SettleOptions {
  if (!settleMs) return () => ({});
  return (id) => ({ delay: settleMs, deduplication: { id, keepLastIfActive: true } });
}
