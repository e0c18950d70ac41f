// Progress of long work on a terminal: one line redrawn in place on stderr
// (at most 10 times a second), cleared when the work ends. Without a
// terminal nothing is drawn: scripts see only the summary lines.
export class Progress {
  private last = 0;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, readonly enabled = out.isTTY === true) {}

  update(text: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    this.out.write(`\r${text}\x1b[K`);
  }

  /** Clears the progress line. */
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

export function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${Math.round(bytes)} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${size(bytes / seconds)}/s` : '-';
}
