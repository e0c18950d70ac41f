// What a generation's X.img.tcp side files hold (docs/image-format.md):
// each connection or listener, whether its peer is in the job on another
// host ("remote"), and the bytes in flight saved with it.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface TcpRecord { listen: boolean; remote: boolean; bytes: number }

/** Every record of every .tcp file in generation directory `dir`; a malformed one fails the test. */
export function tcpRecords(dir: string): TcpRecord[] {
  const out: TcpRecord[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.tcp'))) {
    const buf = readFileSync(join(dir, f));
    for (let at = 0; at < buf.length;) {
      const nl = buf.indexOf(10, at);
      const line = buf.toString('latin1', at, nl);
      at = nl + 1;
      if (line.startsWith('end ')) break;
      const conn = line.match(/^tcp conn \d+ \d+ (\S+) \S+ \d+ \S+ \d+ \d+ [01] (\d+)$/);
      assert.ok(conn || /^tcp listen \d+ \d+ \S+ \d+ \d+ [01] \d+ [01]$/.test(line), `${f}: malformed record '${line}'`);
      const bytes = conn ? Number(conn[2]) : 0;
      out.push({ listen: !conn, remote: conn?.[1] === 'remote', bytes });
      at += bytes;
    }
  }
  return out;
}

/** Bytes in flight of a generation's connections, and how many ends have their peer on another host. */
export function tcpTotals(dir: string): { bytes: number; remote: number } {
  const recs = tcpRecords(dir);
  return { bytes: recs.reduce((n, r) => n + r.bytes, 0), remote: recs.filter((r) => r.remote).length };
}
