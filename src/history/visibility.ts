import { projectsOf, type HistoryRecord } from "./record.js";

/** Every project a record names: its upstream and downstream, and a trigger's cascade path. */
export function namedProjects(r: HistoryRecord): string[] {
  const chain = r.kind === "trigger" ? r.chain?.path ?? [] : [];
  return [...new Set([...projectsOf(r), ...chain])];
}

/** The items whose record names none of the `hidden` projects. */
export function dropHidden<T extends { record: HistoryRecord }>(items: T[], hidden: ReadonlySet<string>): T[] {
  return hidden.size === 0 ? items : items.filter((i) => !namedProjects(i.record).some((p) => hidden.has(p)));
}
