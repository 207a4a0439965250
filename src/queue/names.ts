/**
 * Every key the relay writes carries the `{openci}` hash tag, so BullMQ's multi-key scripts and the
 * relay's own keys stay in one Redis Cluster slot.
 */
export const KEY_PREFIX = "{openci}";

export const QUEUES = {
  /** normalised webhook events waiting for fan-out */
  events: "events",
  /** one job per downstream pipeline to start */
  trigger: "trigger",
  /** upstream decoration: check runs (later statuses and comments) */
  report: "report",
  /** CDEvents deliveries to subscribers (HTTP sinks); failed ones stay as dead letters until re-driven */
  sinks: "sinks",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const key = (...parts: string[]) => [KEY_PREFIX, ...parts].join(":");
