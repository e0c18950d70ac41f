// A periodic timer for any period. Node's timers hold at most 2^31-1 ms
// (24.8 days); a longer delay fires at once, which made a long --interval
// checkpoint back to back. Longer periods are waited for in pieces.
const MAX_DELAY_MS = 2 ** 31 - 1;

export class Every {
  private timer: NodeJS.Timeout | null = null;

  /** Calls `tick` every `ms` milliseconds until stop(). */
  constructor(private readonly ms: number, private readonly tick: () => void) {
    this.arm(Date.now() + ms);
  }

  private arm(due: number): void {
    const left = due - Date.now();
    if (left > MAX_DELAY_MS) {
      this.timer = setTimeout(() => this.arm(due), MAX_DELAY_MS);
      return;
    }
    this.timer = setTimeout(() => {
      this.arm(Date.now() + this.ms);
      this.tick();
    }, Math.max(0, left));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
