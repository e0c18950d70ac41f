// One process's checkpoint thread as the coordinator sees it: its identity
// from HELLO, and replies awaited one at a time during a barrier.
import type { Socket } from 'node:net';
import { joinContinued, sendLine } from './protocol.js';
import { isExecing, isLocal } from './procfs.js';

/** How long a process on another host that said EXEC 1 counts as in exec() after its connection closed. */
const REMOTE_EXEC_MS = 30_000;

export interface ProcInfo {
  pid: number;          // as the program knows it (virtual)
  host: string;
  name: string;
  restored: boolean;
  rejoined: boolean;    // a running process joining a new coordinator (its old one is gone)
  image: string | null;
  kernelPid: number;   // the kernel's pid now (differs from pid after a restart)
  origin: string;      // the host whose pid namespace `pid` belongs to (unique within it)
}

export class ProcPeer {
  closed = false;
  /** When it said EXEC 1 (about to exec; 0: not, or the exec failed): Date.now(), and hrtime to order it against joins. */
  execAnnounced = 0;
  execAnnouncedAt = 0n;

  private keeping = false;
  private kept: string[] = [];

  /** Lines sent unasked are kept for next() (a forked save: SAVED follows SAVING on its own); set anew, none kept yet. */
  set keepLines(on: boolean) {
    this.keeping = on;
    this.kept = [];
  }
  private waiter: { resolve: (line: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;

  constructor(readonly id: number, readonly sock: Socket, readonly info: ProcInfo) {}

  get label(): string {
    const of = this.info.origin !== this.info.host ? ` (of ${this.info.origin})` : '';
    return `process ${this.info.pid} (${this.info.name}) on ${this.info.host}${of}`;
  }

  send(line: string): void {
    sendLine(this.sock, line);
  }

  /** Sends `line` and waits for the next line this process sends. */
  /** `line` may be several (a request whose list is longer than a line: continuedLines). */
  ask(line: string, timeoutMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new Error(`${this.label} disconnected`));
    if (this.waiter) return Promise.reject(new Error(`${this.label}: a request is already pending`));
    this.continued = null;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.label} did not answer '${line.split(/[ +\n]/)[0]}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
      this.send(line);
    });
  }

  /** An answer's `VERB+` lines so far (docs/protocol.md: a list longer than a line). */
  private continued: { verb: string; lists: string[] } | null = null;

  /**
   * Its connection closed in exec(), the new image not joined yet: here,
   * /proc shows it still runs; on another host, it said EXEC 1 before
   * execve, a while ago at most.
   */
  inExec(): boolean {
    if (isLocal(this.info.host)) return isExecing(this.info.host, this.info.kernelPid);
    return this.closed && this.execAnnounced > 0 && Date.now() - this.execAnnounced < REMOTE_EXEC_MS;
  }

  /** Waits for the next line this process sends of its own accord. */
  next(timeoutMs: number, what: string): Promise<string> {
    const line = this.kept.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.reject(new Error(`${this.label} disconnected`));
    if (this.waiter) return Promise.reject(new Error(`${this.label}: a request is already pending`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.label} did not send ${what} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  onLine(line: string): void {
    // Unasked, whenever it execs: never the answer to a request.
    if (line === 'EXEC 1' || line === 'EXEC 0') {
      this.execAnnounced = line === 'EXEC 1' ? Date.now() : 0;
      this.execAnnouncedAt = process.hrtime.bigint();
      return;
    }
    const w = this.waiter;
    if (!w && this.keeping) this.kept.push(line);
    if (!w) return;   // nothing asked: ignore (a late answer after a timeout)
    const more = /^([A-Z_]+)\+ (.*)$/.exec(line);
    if (more) {
      if (!this.continued || this.continued.verb !== more[1]) this.continued = { verb: more[1]!, lists: [] };
      this.continued.lists.push(more[2]!);
      return;
    }
    const c = this.continued;
    this.continued = null;
    this.waiter = null;
    clearTimeout(w.timer);
    w.resolve(c ? joinContinued(c.verb, c.lists, line) : line);
  }

  onClose(why: string): void {
    this.closed = true;
    this.kept = [];
    const w = this.waiter;
    this.waiter = null;
    if (w) {
      clearTimeout(w.timer);
      w.reject(new Error(`${this.label} died or disconnected during the checkpoint (${why})`));
    }
  }
}
