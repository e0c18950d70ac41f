// What a generation's .tcp side files hold (image-format.md): the bytes
// in flight they carry and how many connections have their peer "remote"
// (in the job on another host).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function tcpRecords(dir: string): { bytes: number; remote: number } {
  let bytes = 0, remote = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.tcp'))) {
    const buf = readFileSync(join(dir, f));
    for (let at = 0; at < buf.length;) {
      const nl = buf.indexOf(10, at);
      const line = buf.toString('latin1', at, nl);
      at = nl + 1;
      if (line.startsWith('end ')) break;
      const m = line.match(/^tcp conn \d+ \d+ (\S+) \S+ \d+ \S+ \d+ \d+ [01] (\d+)$/);
      if (m) { bytes += Number(m[2]); remote += m[1] === 'remote' ? 1 : 0; at += Number(m[2]); }
    }
  }
  return { bytes, remote };
}
