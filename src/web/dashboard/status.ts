import type { DownstreamStatus } from "../../history/release-view.js";
import { html, type Html } from "./html.js";

/** How each status reads and looks; the word is always shown, colour only repeats it (symbols from fonts every system has). */
export const STATUS: Record<DownstreamStatus, { label: string; symbol: string }> = {
  passed: { label: "passed", symbol: "✓" },
  failed: { label: "failed", symbol: "✗" },
  in_progress: { label: "running", symbol: "◔" },
  queued: { label: "queued", symbol: "…" },
  gated: { label: "gated", symbol: "‖" },
  timed_out: { label: "timed out", symbol: "◷" },
  cancelled: { label: "cancelled", symbol: "⊘" },
  skipped: { label: "skipped", symbol: "↷" },
  neutral: { label: "neutral", symbol: "○" },
  refused: { label: "refused", symbol: "⊗" },
  error: { label: "error", symbol: "!" },
};

export function statusBadge(status: DownstreamStatus): Html {
  const s = STATUS[status];
  return html`<span class="status s-${status}"><span aria-hidden="true">${s.symbol}</span> ${s.label}</span>`;
}
