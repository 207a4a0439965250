/**
 * Spaces content-creating requests at least `intervalMs` apart per key (a GitHub installation), as
 * GitHub asks of integrations. Waiters are served by priority, then in arrival order, so a downstream
 * dispatch never queues behind upstream decoration writes of the same installation.
 */
export const PRIORITY = { trigger: 0, report: 1 } as const;

interface Waiter {
  priority: number;
  seq: number;
  resolve: () => void;
}

interface Lane {
  nextAt: number;
  waiting: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

export class WritePacer {
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;

  constructor(readonly intervalMs: number) {}

  acquire(key: string, priority: number): Promise<void> {
    if (this.intervalMs <= 0) return Promise.resolve();
    const lane = this.lanes.get(key) ?? { nextAt: 0, waiting: [], timer: undefined };
    this.lanes.set(key, lane);
    return new Promise((resolve) => {
      lane.waiting.push({ priority, seq: this.seq++, resolve });
      lane.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      this.pump(key, lane);
    });
  }

  private pump(key: string, lane: Lane): void {
    if (lane.timer !== undefined) return;
    if (lane.waiting.length === 0) {
      if (Date.now() >= lane.nextAt) this.lanes.delete(key);
      return;
    }
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      const next = lane.waiting.shift();
      lane.nextAt = Date.now() + this.intervalMs;
      next?.resolve();
      this.pump(key, lane);
    }, Math.max(0, lane.nextAt - Date.now()));
  }

  /** Pending timers would keep the process alive on shutdown. */
  close(): void {
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      for (const w of lane.waiting) w.resolve();
    }
    this.lanes.clear();
  }
}
