/**
 * The fake GitLab's answers against the doc's example response (api/*.json `response`): GitLab's
 * docs have no schemas, so the example is the description. Every key the fake answers must be in
 * the example, with the example's JSON type (null stands for any type on either side, as the docs
 * show null where a value may be missing); array items are compared with the example's items taken
 * together (the second job of "List pipeline jobs" is the one with `artifacts_file`).
 */
export function checkAgainstExample(example: unknown, answer: unknown, at = "answer"): string[] {
  if (example === null || answer === null || example === undefined) return [];
  if (Array.isArray(example) || Array.isArray(answer)) {
    if (!Array.isArray(example) || !Array.isArray(answer)) return [`${at} is ${kind(answer)}, the doc's example has ${kind(example)}`];
    if (example.length === 0) return [];
    const item = mergeItems(example);
    return answer.flatMap((a, i) => checkAgainstExample(item, a, `${at}[${i}]`));
  }
  if (typeof example === "object" || typeof answer === "object") {
    if (typeof example !== "object" || typeof answer !== "object") return [`${at} is ${kind(answer)}, the doc's example has ${kind(example)}`];
    const ex = example as Record<string, unknown>;
    return Object.entries(answer as Record<string, unknown>).flatMap(([k, v]) =>
      k in ex ? checkAgainstExample(ex[k], v, `${at}.${k}`) : [`${at}.${k} is not in the doc's example`]);
  }
  return typeof example === typeof answer ? [] : [`${at} is ${kind(answer)}, the doc's example has ${kind(example)}`];
}

function kind(v: unknown): string {
  return Array.isArray(v) ? "an array" : v === null ? "null" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** The items of an example array as one: every key any item has, with the first value that is not null. */
function mergeItems(items: unknown[]): unknown {
  if (!items.every((i) => typeof i === "object" && i !== null && !Array.isArray(i))) return items[0];
  const merged: Record<string, unknown> = {};
  for (const item of items as Record<string, unknown>[]) {
    for (const [k, v] of Object.entries(item)) if (merged[k] === undefined || merged[k] === null) merged[k] = v;
  }
  return merged;
}
