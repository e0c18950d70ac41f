// CONNS (docs/protocol.md): each stopped process lists the TCP connections
// whose peer its own host does not have; a connection whose two ends are
// listed by processes on two different hosts (A's local address is B's
// peer and the reverse) is between two processes of the job, and each end
// is drained with markers. Loopback addresses never pair across hosts.
import { decodeArg } from './protocol.js';

export interface ConnEnd { ino: string; local: string; peer: string }

/** "CONNS [item,...]" → its items; an item is "ino/laddr/lport/paddr/pport", percent-encoded. */
export function parseConns(answer: string): ConnEnd[] {
  const list = answer.slice('CONNS'.length).trim();
  if (!list) return [];
  return list.split(',').map((item) => {
    const f = decodeArg(item).split('/');
    if (f.length !== 5 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[4]!)) throw new Error(`malformed CONNS item '${item}'`);
    return { ino: f[0]!, local: `${f[1]} ${f[2]}`, peer: `${f[3]} ${f[4]}` };
  });
}

const loopback = (end: string) => /^127\./.test(end) || end.startsWith('::1 ');

/**
 * For each process (by index, with its host), the inos of its connections
 * whose peer is in the job on another host.
 */
export function pairAcrossHosts(procs: Array<{ host: string; ends: ConnEnd[] }>): string[][] {
  const byEnds = new Map<string, Set<string>>();   // "local>peer" → hosts that have such an end
  for (const p of procs) for (const e of p.ends) {
    const k = `${e.local}>${e.peer}`;
    byEnds.set(k, (byEnds.get(k) ?? new Set()).add(p.host));
  }
  return procs.map((p) => [...new Set(p.ends.filter((e) => {
    if (loopback(e.local) || loopback(e.peer)) return false;
    const other = byEnds.get(`${e.peer}>${e.local}`);
    return !!other && [...other].some((h) => h !== p.host);
  }).map((e) => e.ino))]);
}
