// CONNS (docs/protocol.md): each stopped process lists the TCP connections
// whose peer its own host does not have; a connection whose two ends are
// listed by processes on two different hosts (A's local address is B's
// peer and the reverse) is between two processes of the job, and each end
// is drained with markers. Loopback addresses never pair across hosts.
import { decodeArg } from './protocol.js';

export interface ConnEnd { ino: string; local: string; peer: string; half: boolean }

/** "CONNS [item,...]" → its items; an item is "ino/laddr/lport/paddr/pport/half", percent-encoded. */
export function parseConns(answer: string): ConnEnd[] {
  const list = answer.slice('CONNS'.length).trim();
  if (!list) return [];
  return list.split(',').map((item) => {
    const f = decodeArg(item).split('/');
    if (f.length !== 6 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[4]!) || !/^[01]$/.test(f[5]!))
      throw new Error(`malformed CONNS item '${item}'`);
    return { ino: f[0]!, local: `${f[1]} ${f[2]}`, peer: `${f[3]} ${f[4]}`, half: f[5] === '1' };
  });
}

const loopback = (end: string) => /^127\./.test(end) || end.startsWith('::1 ');

/**
 * For each process (by index, with its host), "ino/half" for each of its
 * connections whose peer is in the job on another host: half 1 when
 * either end was shut down (both ends must then copy, not drain).
 */
export function pairAcrossHosts(procs: Array<{ host: string; ends: ConnEnd[] }>): string[][] {
  const byEnds = new Map<string, Array<{ host: string; half: boolean }>>();   // "local>peer" → the ends listed so
  for (const p of procs) for (const e of p.ends) {
    const k = `${e.local}>${e.peer}`;
    byEnds.set(k, [...(byEnds.get(k) ?? []), { host: p.host, half: e.half }]);
  }
  return procs.map((p) => {
    const out = new Map<string, string>();
    for (const e of p.ends) {
      if (loopback(e.local) || loopback(e.peer)) continue;
      const others = (byEnds.get(`${e.peer}>${e.local}`) ?? []).filter((o) => o.host !== p.host);
      if (others.length) out.set(e.ino, `${e.ino}/${e.half || others.some((o) => o.half) ? 1 : 0}`);
    }
    return [...out.values()];
  });
}
