// The coordinator as name service for restart loaders (docs/protocol.md,
// PUBLISH/LOOKUP): the end of a job-internal TCP connection that listens
// publishes where it listens now; the other end's loader looks it up,
// waiting for the PUBLISH. A name is taken by its one lookup.
export interface Where { addr: string; port: number }

export class Names {
  private known = new Map<string, Where>();
  private waiting = new Map<string, Array<(w: Where) => void>>();

  /** false when `key` was published before and not yet looked up: the later one replaces it. */
  publish(key: string, where: Where): boolean {
    const w = this.waiting.get(key);
    const first = w?.shift();
    if (w && !w.length) this.waiting.delete(key);
    if (first) { first(where); return true; }
    const again = this.known.has(key);
    this.known.set(key, where);
    return !again;
  }

  /** Where `key` was published; waits up to `timeoutMs` for it. */
  lookup(key: string, timeoutMs: number): Promise<Where> {
    const now = this.known.get(key);
    if (now) {
      this.known.delete(key);
      return Promise.resolve(now);
    }
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key) ?? [];
      const got = (w: Where) => { clearTimeout(timer); resolve(w); };
      const timer = setTimeout(() => {
        const l = this.waiting.get(key) ?? [];
        const i = l.indexOf(got);
        if (i >= 0) l.splice(i, 1);
        if (!l.length) this.waiting.delete(key);
        reject(new Error(`nobody published ${key} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      list.push(got);
      this.waiting.set(key, list);
    });
  }
}
