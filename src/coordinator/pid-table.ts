// The job's virtual pids as the coordinator knows them (docs/protocol.md,
// PIDS). A virtual pid is unique only within its origin host (the host whose
// pid namespace it came from), and a kernel pid only on the host it runs on:
// entries are found by (host, kernel pid) and handed out by origin, so that a
// process learns only the pids its own origin's processes know.
import { listLines } from './protocol.js';
import type { ProcPeer } from './peer.js';

interface Known { origin: string; pid: number }

export class PidTable {
  private byKernel = new Map<string, Known>();   // `${host}/${kernelPid}` → origin and virtual pid

  /**
   * A restored (or rejoining) process tells where its virtual pid is now. A
   * new image of a process that exec'd keeps its kernel pid but knows only
   * that: it is given back the virtual pid and origin it had.
   */
  learn(peer: ProcPeer): void {
    const i = peer.info;
    const key = `${i.host}/${i.kernelPid}`;
    if (i.restored || i.rejoined) {
      if (i.pid !== i.kernelPid) this.byKernel.set(key, { origin: i.origin, pid: i.pid });
      return;
    }
    const known = this.byKernel.get(key);
    if (known) Object.assign(i, known);
  }

  /** PIDS lines for a new image of `origin`: its origin's pids that differ from the kernel's. */
  linesFor(origin: string): string[] {
    const pairs: string[] = [];
    for (const [key, k] of this.byKernel) if (k.origin === origin) pairs.push(`${k.pid}=${key.slice(key.lastIndexOf('/') + 1)}`);
    return listLines('PIDS', pairs);
  }
}

/** At release: each restored process gets its own origin's whole table. */
export function releaseLines(peers: ProcPeer[]): Map<ProcPeer, string[]> {
  const byOrigin = new Map<string, string[]>();
  for (const p of peers) {
    const pairs = byOrigin.get(p.info.origin) ?? [];
    pairs.push(`${p.info.pid}=${p.info.kernelPid}`);
    byOrigin.set(p.info.origin, pairs);
  }
  const lines = new Map<string, string[]>([...byOrigin].map(([o, pairs]) => [o, listLines('PIDS', pairs)]));
  return new Map(peers.map((p) => [p, lines.get(p.info.origin)!]));
}
