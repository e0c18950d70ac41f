// Helpers for tests of one job on several nodes: starting a process on a
// node in the background, and what a generation's .tcp side files hold.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { onNode } from './cluster.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `argv` inside `node` in the background, its output into `out`,
 * with no descriptor but 0-2: one the test runner inherited (a pipe of
 * whatever started it) is held by the node's init too, so a job process
 * holding it could not be checkpointed.
 */
export async function startOnNode(node: string, argv: string[], out: string, env: Record<string, string> = {}): Promise<void> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  const closeAll = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null;';
  const r = await onNode(node, 'bash', ['-c', `${closeAll} ${vars} nohup ${argv.map(quote).join(' ')} > ${quote(out)} 2>&1 < /dev/null &`]);
  assert.equal(r.exitCode, 0, `starting on ${node}: ${r.stderr}`);
}

/** Bytes in flight recorded in a generation's .tcp files, and how many ends have their peer "remote" (in the job on another host). */
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
